import { performance } from 'node:perf_hooks';
import { connect, createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';

/**
 * A load generator for the CA benches: TLS sockets and just enough HTTP/1.1 to find the end of
 * each response. Requests are pre-formatted bytes, so a request costs the client a write and a
 * content-length scan, far less than node's http client: on a 2-core machine the client competes
 * with the server for CPU, and the lighter it is the fairer the server's figure.
 */
export interface Target {
  port: number;
  /**
   * Trust bundle PEM the server's certificate must chain to. Without it the server is not
   * authenticated, as with wrk or h2load: for fresh-connection bursts, where checking the chain
   * on every handshake would make the client, not the server, the bottleneck.
   */
  ca?: string;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  latenciesMs: number[];
  /** Responses other than 200, and requests that failed at the socket. */
  errors: number;
  firstError?: string;
}

/** POST /v1/certificates with a bearer token, as an agent sends it. */
export function issuanceRequest(token: string, csrPem: string, close = false): Buffer {
  const body = Buffer.from(JSON.stringify({ csr: csrPem }));
  const head =
    `POST /v1/certificates HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\nauthorization: Bearer ${token}\r\n` +
    `content-length: ${body.length}\r\n${close ? 'connection: close\r\n' : ''}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

export interface Response {
  status: number;
  body: Buffer;
  /** The Retry-After header in seconds, when the server sent one as delay-seconds. */
  retryAfterS?: number;
}

/** One HTTPS connection carrying one request at a time. */
export class Connection {
  private buf: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (r: Response) => void; reject: (e: Error) => void } | null = null;

  private constructor(readonly socket: TLSSocket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new Error('the server closed the connection before answering')));
  }

  static open(t: Target, context: SecureContext): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: t.port, servername: 'localhost', secureContext: context, rejectUnauthorized: t.ca !== undefined });
      socket.once('secureConnect', () => resolve(new Connection(socket)));
      socket.once('error', reject);
    });
  }

  exchange(request: Buffer): Promise<Response> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(request);
    });
  }

  close(): void {
    this.waiting = null;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const headEnd = this.buf.indexOf('\r\n\r\n');
    if (headEnd < 0) return;
    const head = this.buf.subarray(0, headEnd).toString('latin1');
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!length) return this.fail(new Error(`a response without content-length: ${head.slice(0, 200)}`));
    const end = headEnd + 4 + Number(length[1]);
    if (this.buf.length < end) return;
    const retryAfter = /\r\nretry-after: *(\d+)/i.exec(head);
    const response = { status: Number(head.slice(9, 12)), body: this.buf.subarray(headEnd + 4, end), retryAfterS: retryAfter ? Number(retryAfter[1]) : undefined };
    this.buf = Buffer.alloc(0);
    const w = this.waiting;
    this.waiting = null;
    w?.resolve(response);
  }

  private fail(e: Error): void {
    const w = this.waiting;
    this.waiting = null;
    w?.reject(e);
  }
}

class Recorder {
  readonly latenciesMs: number[] = [];
  errors = 0;
  firstError?: string;

  async time(run: () => Promise<Response>): Promise<void> {
    const t0 = performance.now();
    try {
      const res = await run();
      if (res.status !== 200) this.error(`HTTP ${res.status}: ${res.body.toString('utf8', 0, 300)}`);
    } catch (err) {
      this.error((err as Error).message);
    }
    this.latenciesMs.push(performance.now() - t0);
  }

  private error(what: string): void {
    this.errors++;
    this.firstError ??= what;
  }
}

/** One request on its own connection, for its answer. */
export async function exchangeOnce(t: Target, request: Buffer): Promise<{ status: number; body: string }> {
  const c = await Connection.open(t, secureContextFor(t));
  try {
    const res = await c.exchange(request);
    return { status: res.status, body: res.body.toString('utf8') };
  } finally {
    c.close();
  }
}

/** Closed loop over keep-alive connections, cycling through the requests, for `durationMs`. */
export async function keepAliveLoad(t: Target, requests: Buffer[], connections: number, durationMs: number): Promise<LoadResult> {
  const context = secureContextFor(t);
  const conns = await Promise.all(Array.from({ length: connections }, () => Connection.open(t, context)));
  const rec = new Recorder();
  let next = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(conns.map(async (c) => {
    while (performance.now() < deadline) await rec.time(() => c.exchange(requests[next++ % requests.length]!));
  }));
  const seconds = (performance.now() - started) / 1000;
  for (const c of conns) c.close();
  return { requests: rec.latenciesMs.length, seconds, latenciesMs: rec.latenciesMs, errors: rec.errors, firstError: rec.firstError };
}

/**
 * Every request once, each on a fresh TLS connection closed after its answer (a pod's agent
 * after a control plane restart), with at most `concurrency` in flight. Latency includes the handshake.
 */
export async function burstLoad(t: Target, requests: Buffer[], concurrency: number): Promise<LoadResult> {
  const context = secureContextFor(t);
  const rec = new Recorder();
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < requests.length) {
      const request = requests[next++]!;
      await rec.time(async () => {
        const c = await Connection.open(t, context);
        try {
          return await c.exchange(request);
        } finally {
          c.close();
        }
      });
    }
  }));
  return { requests: rec.latenciesMs.length, seconds: (performance.now() - started) / 1000, latenciesMs: rec.latenciesMs, errors: rec.errors, firstError: rec.firstError };
}

export function secureContextFor(t: Target): SecureContext {
  return createSecureContext(t.ca === undefined ? {} : { ca: t.ca });
}

export function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}
