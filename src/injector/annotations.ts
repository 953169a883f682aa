import { MeshidError } from '../common/errors.js';
import { show } from '../common/text.js';
import type { TrafficLists } from '../iptables/rules.js';
import { parseCidrList, parsePortList, type Parsed } from '../iptables/traffic-values.js';
import type { InjectorConfig } from './config.js';
import { INJECTION_MODES, type InjectionMode, OVERRIDE_PREFIX } from './constants.js';
import { parseBool, parseImage, parseQuantity } from './values.js';

/** Everything a pod may override about its sidecar, after validation, with config defaults filled in. */
export interface Overrides extends TrafficLists {
  proxyImage: string;
  proxyCPU: string;
  proxyMemory: string;
  proxyCPULimit: string;
  proxyMemoryLimit: string;
  rewriteAppHTTPProbers: boolean;
  nativeSidecar: boolean;
  holdApplicationUntilProxyStarts: boolean;
  mode: InjectionMode;
}

type Key = keyof Overrides;

const PARSERS: { [K in Key]: (text: string) => Parsed<Overrides[K]> } = {
  proxyImage: parseImage,
  proxyCPU: parseQuantity,
  proxyMemory: parseQuantity,
  proxyCPULimit: parseQuantity,
  proxyMemoryLimit: parseQuantity,
  includeInboundPorts: parsePortList,
  excludeInboundPorts: parsePortList,
  includeOutboundPorts: parsePortList,
  excludeOutboundPorts: parsePortList,
  includeOutboundIPRanges: parseCidrList,
  excludeOutboundIPRanges: parseCidrList,
  rewriteAppHTTPProbers: parseBool,
  nativeSidecar: parseBool,
  holdApplicationUntilProxyStarts: parseBool,
  mode: parseMode,
};

function parseMode(text: string): Parsed<InjectionMode> {
  if ((INJECTION_MODES as readonly string[]).includes(text)) return { ok: true, value: text as InjectionMode };
  return { ok: false, reason: `${show(text)} is not one of ${INJECTION_MODES.join(', ')}` };
}

const KNOWN = Object.keys(PARSERS) as Key[];

// Far above any sensible list, far below what would make parsing costly.
const MAX_VALUE_LENGTH = 4096;

export function defaultOverrides(config: InjectorConfig): Overrides {
  return {
    proxyImage: config.proxyImage,
    proxyCPU: config.proxyResources.cpu,
    proxyMemory: config.proxyResources.memory,
    proxyCPULimit: config.proxyResources.cpuLimit,
    proxyMemoryLimit: config.proxyResources.memoryLimit,
    includeInboundPorts: '*',
    excludeInboundPorts: [],
    includeOutboundPorts: [],
    excludeOutboundPorts: [],
    includeOutboundIPRanges: '*',
    excludeOutboundIPRanges: [],
    rewriteAppHTTPProbers: config.rewriteAppProbes,
    nativeSidecar: config.nativeSidecar,
    holdApplicationUntilProxyStarts: config.holdApplicationUntilProxyStarts,
    mode: 'sidecar',
  };
}

// Pods mostly carry no overrides or the same few; the bound only stops a flood of distinct ones.
const MAX_PARSED = 64;
const parsed = new WeakMap<InjectorConfig, Map<string, Overrides>>();

/**
 * Reads `sidecar.meshid.io/*` annotations. An unknown key under the prefix is refused too: a typo
 * such as `proxyCpu` silently doing nothing is worse than a denied pod that says why.
 *
 * The result is frozen and the same object for the same override annotations, so the sidecar
 * rendered from it can be memoized on it (render.ts). Refusals are not remembered.
 */
export function parseOverrides(annotations: Record<string, unknown> | undefined, config: InjectorConfig): Overrides {
  let byKey = parsed.get(config);
  if (!byKey) parsed.set(config, (byKey = new Map()));
  const key = overridesKey(annotations);
  let o = byKey.get(key);
  if (!o) {
    o = deepFreeze(parseFresh(annotations, config));
    if (byKey.size >= MAX_PARSED) byKey.clear();
    byKey.set(key, o);
  }
  return o;
}

/** The override annotations exactly as given, values unconverted; '' when there are none. */
function overridesKey(annotations: Record<string, unknown> | undefined): string {
  let pairs: unknown[] | undefined;
  for (const name of Object.keys(annotations ?? {})) {
    if (name.startsWith(OVERRIDE_PREFIX)) (pairs ??= []).push(name, annotations![name]);
  }
  return pairs ? JSON.stringify(pairs) : '';
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    for (const child of Object.values(v)) deepFreeze(child);
    Object.freeze(v);
  }
  return v;
}

function parseFresh(annotations: Record<string, unknown> | undefined, config: InjectorConfig): Overrides {
  const out = defaultOverrides(config);
  for (const [name, raw] of Object.entries(annotations ?? {})) {
    if (!name.startsWith(OVERRIDE_PREFIX)) continue;
    const key = name.slice(OVERRIDE_PREFIX.length) as Key;
    if (!KNOWN.includes(key)) {
      throw invalid(`annotation ${show(name)} is not a meshid override; known ones are ${KNOWN.map((k) => OVERRIDE_PREFIX + k).join(', ')}`);
    }
    if (typeof raw !== 'string') throw invalid(`annotation ${name} must be a string`);
    if (raw.length > MAX_VALUE_LENGTH) throw invalid(`annotation ${name} is ${raw.length} characters long; the limit is ${MAX_VALUE_LENGTH}`);
    const parsed = PARSERS[key](raw);
    if (!parsed.ok) throw invalid(`annotation ${name}: ${parsed.reason}`);
    (out as unknown as Record<string, unknown>)[key] = parsed.value;
  }
  return out;
}

function invalid(message: string): MeshidError {
  return new MeshidError('invalid_annotation', message, 400);
}
