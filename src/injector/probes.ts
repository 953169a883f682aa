import { APP_PROBE_KINDS, appHealthPath, type AppProbeAction, type ProbeField as ProbeKind } from '../common/app-probes-env.js';
import { PORTS } from '../common/pod-contract.js';
import { extend, type Container, type Probe } from './types.js';

const KINDS = Object.keys(APP_PROBE_KINDS) as ProbeKind[];

/** Original probes by container and kind: recorded in the status so un-injection can put them back. */
export type OriginalProbes = Record<string, Partial<Record<ProbeKind, Probe>>>;

export interface ProbeRewrite {
  containers: Container[];
  /** `/app-health/<container>/<kind>` → the check the agent runs instead of the kubelet, ports resolved. */
  probers: Record<string, AppProbeAction>;
  originals: OriginalProbes;
}

/**
 * Points app probes at the agent on 15020, because with strict mTLS the kubelet's plain request
 * would be refused by Envoy. Exec probes run inside the container and need no change; a named port
 * that the container does not declare is left alone, as the kubelet would fail it just the same.
 */
export function rewriteProbes(containers: Container[]): ProbeRewrite {
  const probers: Record<string, AppProbeAction> = {};
  const originals: OriginalProbes = {};
  const out = containers.map((c) => {
    let copy: Container | null = null;
    for (const kind of KINDS) {
      const probe = c[kind];
      if (!probe) continue;
      const action = agentCheck(probe, c);
      if (!action) continue;
      const path = appHealthPath(c.name, kind);
      probers[path] = action;
      (originals[c.name] ??= {})[kind] = probe;
      copy ??= { ...c };
      copy[kind] = rewritten(probe, path);
    }
    return copy ?? c;
  });
  return { containers: out, probers, originals };
}

/** The original action as the agent reads it; defaults the kubelet would apply are written out. */
function agentCheck(probe: Probe, c: Container): AppProbeAction | null {
  const timeoutSeconds = probe.timeoutSeconds ?? 1;
  if (probe.httpGet) {
    const { path = '/', host, scheme = 'HTTP', httpHeaders } = probe.httpGet;
    const port = resolvePort(probe.httpGet.port, c);
    if (port === null || (scheme !== 'HTTP' && scheme !== 'HTTPS')) return null;
    return { httpGet: { path, port, scheme, ...(host === undefined ? {} : { host }), ...(httpHeaders ? { httpHeaders } : {}) }, timeoutSeconds };
  }
  if (probe.tcpSocket) {
    const port = resolvePort(probe.tcpSocket.port, c);
    return port === null ? null : { tcpSocket: { ...probe.tcpSocket, port }, timeoutSeconds };
  }
  if (probe.grpc && Number.isInteger(probe.grpc.port)) return { grpc: { ...probe.grpc }, timeoutSeconds };
  return null;
}

function resolvePort(port: unknown, c: Container): number | null {
  if (typeof port === 'number') return Number.isInteger(port) && port > 0 && port < 65536 ? port : null;
  if (typeof port !== 'string') return null;
  if (/^\d+$/.test(port)) return resolvePort(Number(port), c);
  const named = c.ports?.find((p) => p.name === port);
  return named ? resolvePort(named.containerPort, c) : null;
}

/** Timings and thresholds stay as the user set them; only where the kubelet knocks changes. */
function rewritten(probe: Probe, path: string): Probe {
  const { httpGet: _h, tcpSocket: _t, grpc: _g, ...rest } = probe;
  return extend(rest, { httpGet: { path, port: PORTS.agentStatus, scheme: 'HTTP' } });
}

export function restoreProbes(containers: Container[], originals: OriginalProbes | undefined): Container[] {
  if (!originals) return containers;
  return containers.map((c) => {
    const saved = originals[c.name];
    return saved ? { ...c, ...saved } : c;
  });
}
