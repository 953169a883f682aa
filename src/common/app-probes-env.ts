/**
 * MESHID_APP_PROBES, the injector's message to the agent (design.md, "Injection"): a JSON object whose keys
 * are the agent's endpoint paths `/app-health/<container>/<livez|readyz|startupz>` and whose values are the
 * original probe's action with its timeoutSeconds. The injector writes it with encodeAppProbes, the agent
 * reads it with parseAppProbes; neither knows the other.
 */

export const APP_PROBES_ENV = 'MESHID_APP_PROBES';
export const APP_HEALTH_PREFIX = '/app-health/';

/** Kubernetes probe field → the last segment of its agent path. */
export const APP_PROBE_KINDS = { livenessProbe: 'livez', readinessProbe: 'readyz', startupProbe: 'startupz' } as const;
export type ProbeField = keyof typeof APP_PROBE_KINDS;
const KIND_NAMES: readonly string[] = Object.values(APP_PROBE_KINDS);

/** Kubernetes container names are DNS labels, so they need no escaping in a path. */
const CONTAINER_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function appHealthPath(container: string, field: ProbeField): string {
  return `${APP_HEALTH_PREFIX}${container}/${APP_PROBE_KINDS[field]}`;
}

/** The value the injector writes: a port already resolved to a number, scheme and timeout spelled out. */
export type AppProbeAction =
  | { httpGet: { path: string; port: number; scheme: 'HTTP' | 'HTTPS'; host?: string; httpHeaders?: Array<{ name: string; value: string }> }; timeoutSeconds: number }
  | { tcpSocket: { port: number; host?: string }; timeoutSeconds: number }
  | { grpc: { port: number; service?: string }; timeoutSeconds: number };

/** What the agent runs. */
export type AppProbe =
  | { kind: 'http'; scheme: 'HTTP' | 'HTTPS'; host: string; port: number; path: string; headers: Record<string, string>; timeoutMs: number }
  | { kind: 'tcp'; host: string; port: number; timeoutMs: number }
  | { kind: 'grpc'; host: string; port: number; service: string; timeoutMs: number };

export function encodeAppProbes(probes: Record<string, AppProbeAction>): string {
  return JSON.stringify(probes);
}

/** Parses the env value into probes by agent path; throws one line naming the entry that is wrong. */
export function parseAppProbes(json: string | undefined): Map<string, AppProbe> {
  const probes = new Map<string, AppProbe>();
  if (json === undefined || json.trim() === '') return probes;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error(`${APP_PROBES_ENV} is not valid JSON`);
  }
  if (!isObject(parsed)) throw new Error(`${APP_PROBES_ENV} must be a JSON object of "${APP_HEALTH_PREFIX}<container>/<probe>": probe`);
  for (const [key, value] of Object.entries(parsed)) {
    if (!isAppHealthPath(key)) {
      throw new Error(`${APP_PROBES_ENV}: key "${key.slice(0, 100)}" must be "${APP_HEALTH_PREFIX}<container>/<${KIND_NAMES.join('|')}>"`);
    }
    probes.set(key, parseProbe(key, value));
  }
  return probes;
}

function isAppHealthPath(key: string): boolean {
  if (!key.startsWith(APP_HEALTH_PREFIX)) return false;
  const [container, kind, extra] = key.slice(APP_HEALTH_PREFIX.length).split('/');
  return extra === undefined && CONTAINER_NAME.test(container ?? '') && KIND_NAMES.includes(kind ?? '');
}

function parseProbe(key: string, v: unknown): AppProbe {
  const where = `${APP_PROBES_ENV}["${key}"]`;
  if (!isObject(v)) throw new Error(`${where} must be a probe object`);
  const timeoutSeconds = v.timeoutSeconds ?? 1;
  if (typeof timeoutSeconds !== 'number' || !(timeoutSeconds >= 1 && timeoutSeconds <= 3600)) throw new Error(`${where}.timeoutSeconds must be a number of seconds from 1 to 3600`);
  const timeoutMs = timeoutSeconds * 1000;
  if (isObject(v.httpGet)) {
    const h = v.httpGet;
    const scheme = h.scheme ?? 'HTTP';
    if (scheme !== 'HTTP' && scheme !== 'HTTPS') throw new Error(`${where}.httpGet.scheme must be HTTP or HTTPS`);
    const path = h.path ?? '/';
    if (typeof path !== 'string' || !path.startsWith('/')) throw new Error(`${where}.httpGet.path must start with "/"`);
    const headers: Record<string, string> = {};
    for (const hd of Array.isArray(h.httpHeaders) ? h.httpHeaders : []) {
      if (!isObject(hd) || typeof hd.name !== 'string' || typeof hd.value !== 'string') throw new Error(`${where}.httpGet.httpHeaders entries need a name and a value`);
      headers[hd.name] = hd.value;
    }
    return { kind: 'http', scheme, host: host(h.host, where), port: port(h.port, `${where}.httpGet.port`), path, headers, timeoutMs };
  }
  if (isObject(v.tcpSocket)) return { kind: 'tcp', host: host(v.tcpSocket.host, where), port: port(v.tcpSocket.port, `${where}.tcpSocket.port`), timeoutMs };
  if (isObject(v.grpc)) {
    const service = v.grpc.service ?? '';
    if (typeof service !== 'string') throw new Error(`${where}.grpc.service must be a string`);
    return { kind: 'grpc', host: '127.0.0.1', port: port(v.grpc.port, `${where}.grpc.port`), service, timeoutMs };
  }
  throw new Error(`${where} needs one of httpGet, tcpSocket or grpc`);
}

/** Inside the pod the app is on loopback; a probe's own host (rare) is kept. */
function host(value: unknown, where: string): string {
  if (value === undefined || value === '') return '127.0.0.1';
  if (typeof value !== 'string') throw new Error(`${where}: host must be a string`);
  return value;
}

function port(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw new Error(`${where} must be a port number from 1 to 65535 (named ports are resolved by the injector)`);
  }
  return value;
}

function isObject(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
