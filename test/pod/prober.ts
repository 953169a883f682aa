import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import * as grpc from '@grpc/grpc-js';

type Probe = Record<string, any>;
type Spec = Record<string, any>;

export interface ProbeOutcome {
  ok: boolean;
  detail: string;
}

/**
 * One probe as the kubelet runs it from the node: against the pod IP (httpGet's host aside), a named port
 * resolved from the container's ports, success for HTTP 200-399, a TCP connect, or gRPC health SERVING;
 * `timeoutSeconds` (default 1) bounds each. `exec` runs in the container through `execIn`.
 */
export async function runProbe(probe: Probe, c: Spec, podIP: string, execIn: (cmd: string[], timeoutMs: number) => Promise<number>): Promise<ProbeOutcome> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  if (probe.exec) {
    const code = await execIn(probe.exec.command, timeoutMs);
    return { ok: code === 0, detail: `exec exit ${code}` };
  }
  if (probe.httpGet) return httpGet(probe.httpGet, port(probe.httpGet.port, c), probe.httpGet.host || podIP, timeoutMs);
  if (probe.tcpSocket) return tcp(probe.tcpSocket.host || podIP, port(probe.tcpSocket.port, c), timeoutMs);
  if (probe.grpc) return grpcHealth(podIP, probe.grpc.port, probe.grpc.service ?? '', timeoutMs);
  return { ok: false, detail: 'probe has no handler' };
}

function port(p: number | string, c: Spec): number {
  if (typeof p === 'number') return p;
  if (/^\d+$/.test(p)) return Number(p);
  const named = (c.ports ?? []).find((x: Spec) => x.name === p);
  if (!named) throw new Error(`probe port ${p} is not a port of container ${c.name}`);
  return named.containerPort;
}

function hostPart(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function httpGet(h: Spec, p: number, host: string, timeoutMs: number): Promise<ProbeOutcome> {
  const headers: Record<string, string> = { 'user-agent': 'kube-probe/1.33', accept: '*/*' };
  for (const x of h.httpHeaders ?? []) headers[x.name] = x.value;
  const url = `${(h.scheme ?? 'HTTP').toLowerCase()}://${hostPart(host)}:${p}${h.path ?? '/'}`;
  const request = h.scheme === 'HTTPS' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = request(url, { headers, timeout: timeoutMs, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d.slice(0, 512)));
      res.on('end', () => resolve({ ok: res.statusCode! >= 200 && res.statusCode! < 400, detail: `HTTP ${res.statusCode}: ${body.trim().slice(0, 200)}` }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ ok: false, detail: `${url}: ${err.message}` }));
    req.end();
  });
}

function tcp(host: string, p: number, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const socket = connect({ host, port: p, timeout: timeoutMs }, () => {
      socket.destroy();
      resolve({ ok: true, detail: `tcp ${host}:${p} open` });
    });
    socket.on('timeout', () => socket.destroy(new Error('timeout')));
    socket.on('error', (err) => resolve({ ok: false, detail: `tcp ${host}:${p}: ${err.message}` }));
  });
}

/** grpc.health.v1.Health/Check; the two messages are small enough to encode by hand (field 1 of each). */
function grpcHealth(host: string, p: number, service: string, timeoutMs: number): Promise<ProbeOutcome> {
  const client = new grpc.Client(`${hostPart(host)}:${p}`, grpc.credentials.createInsecure());
  const svc = Buffer.from(service);
  const req = service ? Buffer.concat([Buffer.from([0x0a, svc.length]), svc]) : Buffer.alloc(0);
  return new Promise((resolve) => {
    client.makeUnaryRequest('/grpc.health.v1.Health/Check', (b: Buffer) => b, (b: Buffer) => b, req, { deadline: Date.now() + timeoutMs }, (err, res) => {
      client.close();
      if (err) return resolve({ ok: false, detail: `grpc: ${err.message}` });
      const status = res && res.length >= 2 && res[0] === 0x08 ? res[1] : 0;
      resolve({ ok: status === 1, detail: `grpc status ${status === 1 ? 'SERVING' : status}` });
    });
  });
}
