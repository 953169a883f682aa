import { isIP } from 'node:net';
import { readStatus } from '../injector/status.js';
import type { Pod } from '../injector/types.js';
import type { MeshEndpointSlice, MeshPod, MeshService, MeshServicePort } from './model.js';

/**
 * Raw API objects (as a list or a watch delivers them) into the mesh model. Lenient by design: these are objects
 * the API server accepted, and a field of an unexpected shape counts as absent rather than stopping the watch.
 */

type Obj = Record<string, any>;

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export function podFromObject(o: Obj): MeshPod | null {
  const meta = o?.metadata;
  if (typeof meta?.name !== 'string' || typeof meta.namespace !== 'string') return null;
  const status = o.status ?? {};
  const listed = Array.isArray(status.podIPs) ? status.podIPs.map((p: Obj) => p?.ip) : [];
  const ips = [...new Set<string>([...listed, status.podIP].filter((ip): ip is string => typeof ip === 'string' && isIP(ip) !== 0))];
  const namedPorts: Record<string, number> = {};
  for (const c of [...(o.spec?.containers ?? []), ...(o.spec?.initContainers ?? [])] as Obj[]) {
    for (const p of (c?.ports ?? []) as Obj[]) if (typeof p?.name === 'string' && Number.isInteger(p.containerPort)) namedPorts[p.name] = p.containerPort;
  }
  return {
    namespace: meta.namespace, name: meta.name, uid: String(meta.uid ?? ''),
    serviceAccount: typeof o.spec?.serviceAccountName === 'string' && o.spec.serviceAccountName ? o.spec.serviceAccountName : 'default',
    labels: stringMap(meta.labels), ips, phase: typeof status.phase === 'string' ? status.phase : 'Pending',
    injected: isInjected(o), namedPorts,
  };
}

function isInjected(o: Obj): boolean {
  try {
    return readStatus(o as Pod) !== null;
  } catch {
    // A status annotation meshid cannot read is not proof of a sidecar: treat the pod as plain.
    return false;
  }
}

export function serviceFromObject(o: Obj): MeshService | null {
  const meta = o?.metadata;
  if (typeof meta?.name !== 'string' || typeof meta.namespace !== 'string') return null;
  const spec = o.spec ?? {};
  const ips = (Array.isArray(spec.clusterIPs) ? spec.clusterIPs : [spec.clusterIP]).filter((ip: unknown): ip is string => typeof ip === 'string' && isIP(ip) !== 0);
  const ports: MeshServicePort[] = [];
  for (const p of (spec.ports ?? []) as Obj[]) {
    if (!Number.isInteger(p?.port) || (p.protocol !== undefined && p.protocol !== 'TCP')) continue;
    const name = typeof p.name === 'string' ? p.name : '';
    const targetPort = Number.isInteger(p.targetPort) || typeof p.targetPort === 'string' ? p.targetPort : p.port;
    ports.push({ name, port: p.port, targetPort: /^\d+$/.test(String(targetPort)) ? Number(targetPort) : targetPort, http: isHttp(name, p.appProtocol) });
  }
  const selector = spec.selector && typeof spec.selector === 'object' ? stringMap(spec.selector) : null;
  return { namespace: meta.namespace, name: meta.name, clusterIPs: ips, selector, ports };
}

/** Istio's rule: appProtocol http, http2 (and h2c), else a port name `http` or starting `http-`/`http2`. */
export function isHttp(name: string, appProtocol: unknown): boolean {
  if (typeof appProtocol === 'string' && appProtocol) return /^(http|http2|h2c|kubernetes\.io\/h2c|grpc)$/i.test(appProtocol);
  return /^http/i.test(name);
}

export function sliceFromObject(o: Obj): MeshEndpointSlice | null {
  const meta = o?.metadata;
  const service = meta?.labels?.[SERVICE_NAME_LABEL];
  if (typeof meta?.name !== 'string' || typeof meta.namespace !== 'string' || typeof service !== 'string') return null;
  return {
    namespace: meta.namespace, name: meta.name, service,
    portNames: ((o.ports ?? []) as Obj[]).filter((p) => p?.protocol === undefined || p.protocol === 'TCP').map((p) => (typeof p?.name === 'string' ? p.name : '')),
    endpoints: ((o.endpoints ?? []) as Obj[]).map((e) => ({
      // discovery.k8s.io/v1: an unset ready condition means ready.
      ready: e?.conditions?.ready !== false && e?.conditions?.terminating !== true,
      pod: e?.targetRef?.kind === 'Pod' && typeof e.targetRef.name === 'string' ? e.targetRef.name : undefined,
      addresses: ((e?.addresses ?? []) as unknown[]).filter((a): a is string => typeof a === 'string'),
    })),
  };
}

function stringMap(v: unknown): Record<string, string> {
  if (!v || typeof v !== 'object') return {};
  return Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x === 'string')) as Record<string, string>;
}
