import type { Handler } from './http-server.js';
import { reply } from './http-server.js';
import { grpcProbe, httpProbe, tcpProbe, type ProbeResult } from './probe-runners.js';

export const APP_PROBES_ENV = 'MESHID_APP_PROBES';
export const APP_HEALTH_PREFIX = '/app-health/';
const PROBE_KINDS = ['livez', 'readyz', 'startupz'];

export type AppProbe =
  | { kind: 'http'; scheme: 'HTTP' | 'HTTPS'; host: string; port: number; path: string; headers: Record<string, string>; timeoutMs: number }
  | { kind: 'tcp'; host: string; port: number; timeoutMs: number }
  | { kind: 'grpc'; host: string; port: number; service: string; timeoutMs: number };

/**
 * The original probes the injector rewrote, from MESHID_APP_PROBES: {"<container>/<livez|readyz|startupz>":
 * <Kubernetes probe with httpGet, tcpSocket or grpc, numeric port, timeoutSeconds>}. Throws naming the entry.
 */
export function parseAppProbes(json: string | undefined): Map<string, AppProbe> {
  const probes = new Map<string, AppProbe>();
  if (json === undefined || json.trim() === '') return probes;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error(`${APP_PROBES_ENV} is not valid JSON`);
  }
  if (!isObject(parsed)) throw new Error(`${APP_PROBES_ENV} must be a JSON object of "<container>/<probe>": probe`);
  for (const [key, value] of Object.entries(parsed)) {
    const [container, kind, extra] = key.split('/');
    if (!container || !kind || extra !== undefined || !PROBE_KINDS.includes(kind)) {
      throw new Error(`${APP_PROBES_ENV}: key "${key}" must be "<container>/<livez|readyz|startupz>"`);
    }
    probes.set(key, parseProbe(key, value));
  }
  return probes;
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

export function runProbe(p: AppProbe): Promise<ProbeResult> {
  if (p.kind === 'http') return httpProbe(p, p.timeoutMs);
  if (p.kind === 'tcp') return tcpProbe(p, p.timeoutMs);
  return grpcProbe(p, p.timeoutMs);
}

/** GET /app-health/<container>/<probe> on 15020: runs the original probe against the app and relays the verdict. */
export function appProbeHandler(probes: Map<string, AppProbe>): Handler {
  return async (req, res) => {
    const key = decodeURIComponent((req.url ?? '').split('?')[0]!.slice(APP_HEALTH_PREFIX.length));
    const probe = probes.get(key);
    if (!probe) return reply(res, 404, `no probe configured for ${key}\n`);
    const result = await runProbe(probe);
    reply(res, result.status, `${result.ok ? 'ok' : 'failed'}: ${result.detail}\n`);
  };
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
