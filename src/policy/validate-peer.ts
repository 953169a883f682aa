import type { MtlsMode, PeerAuthenticationSpec } from '../mesh/view.js';
import { enumValue, isRecord, type Json, type Problems, quote, record, typeName } from './shape.js';
import { validateSelector } from './validate-selector.js';
import { portProblem } from './values.js';

export const PEER_AUTHENTICATION_FIELDS = ['selector', 'mtls', 'portLevelMtls'] as const;
export const MTLS_FIELDS = ['mode'] as const;
export const MTLS_MODES = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'] as const;
const MAX_PORTS = 1000;

type Mode = MtlsMode | 'UNSET';

function mtls(v: unknown, path: string, p: Problems): { mode?: Mode } | undefined {
  const m = record(v, path, p, MTLS_FIELDS);
  if (!m) return undefined;
  if (m.mode === undefined) return {};
  const mode = enumValue(m.mode, `${path}.mode`, p, MTLS_MODES);
  return mode ? { mode } : undefined;
}

/** PeerAuthentication `spec`, with Istio's own validation rules (port-level modes need a selector). */
export function validatePeerAuthenticationSpec(spec: Json, p: Problems): PeerAuthenticationSpec {
  record(spec, 'spec', p, PEER_AUTHENTICATION_FIELDS);
  const out: PeerAuthenticationSpec = {};
  const selector = spec.selector === undefined ? undefined : validateSelector(spec.selector, 'spec.selector', p);
  if (selector) out.selector = selector;
  if (spec.mtls !== undefined) {
    const m = mtls(spec.mtls, 'spec.mtls', p);
    if (m) out.mtls = m;
  }
  if (spec.portLevelMtls !== undefined) {
    const at = 'spec.portLevelMtls';
    if (!isRecord(spec.portLevelMtls)) {
      p.add(at, `must be an object of port: {mode}, not ${typeName(spec.portLevelMtls)}`);
      return out;
    }
    const entries = Object.entries(spec.portLevelMtls);
    if (entries.length > MAX_PORTS) p.add(at, `has ${entries.length} ports; at most ${MAX_PORTS} are allowed`);
    else if (entries.length && !selector) p.add(at, 'needs a selector: port-level modes apply to selected workloads only (as in Istio)');
    const ports: Record<string, { mode: Mode }> = {};
    for (const [port, value] of entries.slice(0, MAX_PORTS)) {
      const here = `${at}[${quote(port)}]`;
      if (portProblem(port)) {
        p.add(here, `${quote(port)} ${portProblem(port)}`);
        continue;
      }
      const m = mtls(value, here, p);
      if (m && m.mode === undefined) p.add(`${here}.mode`, 'is required');
      else if (m?.mode) ports[String(Number(port))] = { mode: m.mode };
    }
    if (Object.keys(ports).length) out.portLevelMtls = ports;
  }
  return out;
}
