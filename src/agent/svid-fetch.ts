import { readFile } from 'node:fs/promises';
import type { Clock } from '../common/clock.js';
import { MeshidError } from '../common/errors.js';
import { buildCsrPem } from '../pki/csr-build.js';
import { generateKeyPair, privateKeyPem, type KeyAlgorithm } from '../pki/keys.js';
import { requestCertificate } from './ca-client.js';
import type { AgentConfig } from './config.js';
import { splitCertificates, verifyIssued, type Svid } from './svid.js';
import type { SvidStore } from './svid-store.js';
import { readToken } from './token.js';

/** How long one CA call may take. */
export const CA_TIMEOUT_MS = 10_000;

export type FetchSvid = () => Promise<Svid>;

export interface SvidFetchOptions {
  caUrl: string;
  /** The mounted trust bundle (ConfigMap meshid-ca-root-cert); re-read each time, as it changes on root rotation. */
  caRootFile: string;
  tokenFile: string;
  spiffeId: string;
  ttlSeconds?: number;
  keyAlgorithm?: KeyAlgorithm;
  clock: Clock;
  /** Roots learnt from earlier CA answers, trusted alongside the file while it catches up with a rotation. */
  knownRoots(): string[];
  caTimeoutMs?: number;
}

/** One SVID fetch: a fresh key, a CSR for our SPIFFE ID, the current token, the CA call, and verification. */
export function createSvidFetcher(o: SvidFetchOptions): FetchSvid {
  return async () => {
    const token = await readToken(o.tokenFile);
    const { privateKey, publicKey } = generateKeyPair(o.keyAlgorithm ?? 'ec-p256');
    const csrPem = buildCsrPem(privateKey, publicKey, o.spiffeId);
    const requestedAt = o.clock.now();
    const res = await requestCertificate(
      { caUrl: o.caUrl, trustedRoots: () => trustedRoots(o.caRootFile, o.knownRoots()), trustSource: o.caRootFile, timeoutMs: o.caTimeoutMs },
      { csrPem, token, ttlSeconds: o.ttlSeconds },
    );
    return verifyIssued(res, { spiffeId: o.spiffeId, publicKey, keyPem: privateKeyPem(privateKey), now: o.clock.now(), requestedAt });
  };
}

/** The fetcher for an agent's configuration, trusting the roots its store has learnt as well as the file. */
export function svidFetcherFor(config: AgentConfig, spiffeId: string, clock: Clock, store: SvidStore, caTimeoutMs = CA_TIMEOUT_MS): FetchSvid {
  return createSvidFetcher({
    caUrl: config.caUrl, caRootFile: config.caRootFile, tokenFile: config.tokenFile, spiffeId,
    ttlSeconds: config.certTtlSeconds, keyAlgorithm: config.keyAlgorithm, clock, caTimeoutMs,
    knownRoots: () => store.roots(),
  });
}

/** The mounted roots and those learnt from the CA's answers: what the CA's serving certificate may chain to. */
export async function trustedRoots(file: string, known: string[]): Promise<string[]> {
  const fromFile = await readRootFile(file).catch(() => []);
  const roots = [...new Set([...fromFile, ...known])];
  if (roots.length === 0) throw new MeshidError('no_trust_bundle', `no trusted root to verify the CA with: ${file} is missing, empty or not PEM certificates`);
  return roots;
}

export async function readRootFile(file: string): Promise<string[]> {
  return splitCertificates(await readFile(file, 'utf8'), file);
}
