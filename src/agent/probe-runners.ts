import * as grpc from '@grpc/grpc-js';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';

/** What a probe found: success, and a short reason kubelet shows in the pod's events. */
export interface ProbeResult {
  ok: boolean;
  status: number;
  detail: string;
}

/** kubelet's rule: an HTTP probe succeeds on any status from 200 to 399. */
export function httpProbe(
  p: { scheme: 'HTTP' | 'HTTPS'; host: string; port: number; path: string; headers: Record<string, string> },
  timeoutMs: number,
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const send = p.scheme === 'HTTPS' ? httpsRequest : httpRequest;
    // kubelet does not verify the app's certificate either: the probe checks liveness, not identity.
    const req = send({ host: p.host, port: p.port, path: p.path, method: 'GET', headers: { 'user-agent': 'kube-probe/meshid', ...p.headers }, timeout: timeoutMs, rejectUnauthorized: false }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      const ok = code >= 200 && code < 400;
      resolve({ ok, status: ok ? 200 : code >= 400 ? code : 503, detail: `HTTP ${code}` });
    });
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, status: 503, detail: err.code ?? err.message }));
    req.end();
  });
}

export function tcpProbe(p: { host: string; port: number }, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: p.host, port: p.port });
    const done = (r: ProbeResult): void => {
      socket.destroy();
      resolve(r);
    };
    socket.setTimeout(timeoutMs, () => done({ ok: false, status: 503, detail: `timed out after ${timeoutMs} ms` }));
    socket.once('connect', () => done({ ok: true, status: 200, detail: 'connected' }));
    socket.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, status: 503, detail: err.code ?? err.message }));
  });
}

/*
 * grpc.health.v1.Health/Check: HealthCheckRequest{string service = 1} and HealthCheckResponse{enum status = 1},
 * SERVING = 1. The messages are a single field each, so they are encoded here rather than shipping a proto.
 */
const HEALTH_CHECK = {
  path: '/grpc.health.v1.Health/Check',
  requestStream: false,
  responseStream: false,
  requestSerialize: (service: string) => {
    const bytes = Buffer.from(service, 'utf8');
    return bytes.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a]), varint(bytes.length), bytes]);
  },
  requestDeserialize: (b: Buffer) => b.toString(),
  responseSerialize: (n: number) => Buffer.from([0x08, n]),
  responseDeserialize: (b: Buffer) => (b.length >= 2 && b[0] === 0x08 ? b[1]! : 0),
};
const HealthClient = grpc.makeGenericClientConstructor({ Check: HEALTH_CHECK }, 'grpc.health.v1.Health');
const STATUS_NAMES = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

export function grpcProbe(p: { host: string; port: number; service: string }, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const client = new HealthClient(`${p.host}:${p.port}`, grpc.credentials.createInsecure());
    const check = client.Check.bind(client) as (req: string, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: number) => void) => void;
    check(p.service, { deadline: Date.now() + timeoutMs }, (err, status) => {
      client.close();
      if (err) return resolve({ ok: false, status: 503, detail: `gRPC ${grpc.status[err.code] ?? err.code}` });
      const name = STATUS_NAMES[status ?? 0] ?? String(status);
      resolve({ ok: status === 1, status: status === 1 ? 200 : 503, detail: name });
    });
  });
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}
