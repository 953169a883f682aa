import { Agent, request } from 'node:https';
import { MeshidError } from '../common/errors.js';
import { truncate } from '../common/text.js';
import type { IssuedResponse } from './svid.js';

export interface CaRequest {
  csrPem: string;
  token: string;
  ttlSeconds?: number;
}

export interface CaClientOptions {
  /** https://host:port of the CA. */
  caUrl: string;
  /** Roots the CA's serving certificate must chain to. */
  trustedRoots(): Promise<string[]>;
  /** Where those roots come from (the --ca-root file), to name it when the CA does not chain to them. */
  trustSource: string;
  timeoutMs?: number;
}

/**
 * OpenSSL's verdicts that mean "this certificate does not chain to the roots we were given". They are
 * transient in a pod: the mounted bundle may not yet hold the root, or a rotation may be under way.
 */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The CaError for a failed connection: a trust failure is told apart from a CA that does not answer. */
export function connectionError(err: Error & { code?: string }, origin: string, trustSource: string): CaError {
  if (err instanceof CaError) return err;
  if (err.code && UNTRUSTED.has(err.code)) {
    return new CaError('ca_not_trusted', `the CA's certificate at ${origin} is not trusted by ${trustSource} (${err.code})`, true);
  }
  return new CaError('ca_unreachable', `cannot reach the CA at ${origin}: ${err.code ?? err.message}`, true);
}

const MAX_RESPONSE_BYTES = 256 * 1024;

/** An error from the CA exchange; `transient` ones (no answer, 5xx, 429) are worth retrying soon. */
export class CaError extends MeshidError {
  /** How long the CA asked to be left alone (its Retry-After), when it said. */
  readonly retryAfterMs?: number;

  constructor(code: string, message: string, readonly transient: boolean, retryAfterMs?: number) {
    super(code, message, 502);
    if (retryAfterMs !== undefined) this.retryAfterMs = retryAfterMs;
  }
}

/** Longer than any Retry-After a CA has a reason to send; a larger one is taken as this. */
const MAX_RETRY_AFTER_MS = 300_000;

/** Retry-After as RFC 9110 writes it, delay-seconds or an HTTP-date, in ms from `now`; undefined when absent or garbled. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  const ms = /^\d{1,10}$/.test(text) ? Number(text) * 1000 : /[a-z]/i.test(text) ? Date.parse(text) - now : Number.NaN;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/**
 * POST /v1/certificates over HTTPS, verifying the CA against the trust bundle. Returns the parsed JSON
 * body of a 200; every other outcome is a CaError naming the CA's error code and message when it sent one.
 */
export async function requestCertificate(opts: CaClientOptions, req: CaRequest): Promise<IssuedResponse & { spiffeId?: unknown }> {
  const body = req.ttlSeconds === undefined ? { csr: req.csrPem } : { csr: req.csrPem, ttlSeconds: req.ttlSeconds };
  return (await callCa(opts, { method: 'POST', path: '/v1/certificates', token: req.token, body })) as IssuedResponse;
}

/**
 * One JSON exchange with the CA over HTTPS, verifying it against the trust bundle: the parsed object of
 * a 200, or a CaError naming the CA's error code and message when it sent one. The token goes only in
 * the Authorization header, never into an error.
 */
export async function callCa(opts: CaClientOptions, req: { method: 'GET' | 'POST'; path: string; token?: string; body?: unknown }): Promise<object> {
  const url = new URL(req.path, opts.caUrl);
  const body = req.body === undefined ? undefined : JSON.stringify(req.body);
  const headers: Record<string, string | number> = {};
  if (body !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  if (req.token !== undefined) headers.authorization = `Bearer ${req.token}`;
  const agent = agentFor(await opts.trustedRoots());
  const { status, text, retryAfter } = await new Promise<{ status: number; text: string; retryAfter?: string | string[] }>((resolve, reject) => {
    const r = request(
      url,
      { method: req.method, agent, headers, timeout: opts.timeoutMs ?? 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) {
            r.destroy(new CaError('ca_response_too_large', `the CA at ${url.origin} sent more than ${MAX_RESPONSE_BYTES} bytes`, true));
          } else chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), retryAfter: res.headers['retry-after'] }));
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new CaError('ca_timeout', `the CA at ${url.origin} did not answer within ${opts.timeoutMs ?? 10_000} ms`, true)));
    r.on('error', (err: Error & { code?: string }) => reject(connectionError(err, url.origin, opts.trustSource)));
    r.end(body);
  });
  const json = parseJson(text);
  if (status !== 200) {
    const e = (json as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    const code = typeof e?.code === 'string' ? truncate(e.code, 64) : `http_${status}`;
    const message = typeof e?.message === 'string' ? truncate(e.message, 300) : 'no error message';
    throw new CaError(code, `the CA refused the request (HTTP ${status}, ${code}): ${message}`, status >= 500 || status === 429, parseRetryAfter(retryAfter, Date.now()));
  }
  if (json === null || typeof json !== 'object') throw new CaError('invalid_ca_response', `the CA at ${url.origin} answered 200 with a body that is not a JSON object`, true);
  return json;
}

/**
 * One keep-alive agent per trust bundle: building a TLS context from the roots on every renewal costs CPU
 * and leaves native memory behind; the bundle changes only on root rotation.
 */
let cached: { key: string; agent: Agent } | null = null;
export function agentFor(roots: string[]): Agent {
  const key = roots.join('');
  if (cached?.key !== key) {
    cached?.agent.destroy();
    cached = { key, agent: new Agent({ ca: roots, keepAlive: true, maxSockets: 4 }) };
  }
  return cached.agent;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
