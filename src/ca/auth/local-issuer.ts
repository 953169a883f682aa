import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { CA_AUDIENCE } from './verifier.js';

/** Kubernetes signs ServiceAccount tokens with RS256 by default; local mode does the same. */
export const LOCAL_ALGORITHM = 'RS256';
export const LOCAL_ISSUER = 'https://meshid.local';
const KEY_FILE = 'token-issuer/key.pem';

export interface LocalIssuer {
  privateKey: KeyObject;
  publicKey: KeyObject;
  issuer: string;
}

/** The data directory's token issuer, created on first use (0600, never overwritten). */
export async function loadLocalIssuer(dataDir: string, create = true): Promise<LocalIssuer> {
  const path = join(dataDir, KEY_FILE);
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new Error(`cannot read the local token issuer key ${path}: ${code === 'EACCES' ? 'permission denied' : code ?? 'unreadable'}`);
    if (!create) throw new Error(`no local token issuer key ${path}; run "meshid serve --local --data-dir ${dataDir}" once to create it`);
    pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    await mkdir(join(dataDir, 'token-issuer'), { recursive: true, mode: 0o700 });
    try {
      await writeFile(path, pem, { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      pem = await readFile(path, 'utf8');
    }
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw new Error(`${path} is not a readable private key`);
  }
  return { privateKey, publicKey: createPublicKey(privateKey), issuer: LOCAL_ISSUER };
}

export interface MintOptions {
  namespace: string;
  serviceAccount: string;
  audience?: string;
  ttlSeconds?: number;
  /** Binds the token to a pod, as a projected token is. */
  pod?: { name: string; uid: string };
  now?: number;
}

/** A token with exactly the claims of a Kubernetes projected ServiceAccount token. */
export async function mintToken(issuer: LocalIssuer, o: MintOptions): Promise<string> {
  const iat = Math.floor((o.now ?? Date.now()) / 1000);
  const k8s: Record<string, unknown> = {
    namespace: o.namespace,
    serviceaccount: { name: o.serviceAccount, uid: randomUUID() },
  };
  if (o.pod) k8s.pod = o.pod;
  return new SignJWT({ 'kubernetes.io': k8s })
    .setProtectedHeader({ alg: LOCAL_ALGORITHM, kid: 'meshid-local' })
    .setIssuer(issuer.issuer)
    .setSubject(`system:serviceaccount:${o.namespace}:${o.serviceAccount}`)
    .setAudience([o.audience ?? CA_AUDIENCE])
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(iat + (o.ttlSeconds ?? 3600))
    .sign(issuer.privateKey);
}

export async function mintLocalToken(o: MintOptions & { dataDir: string }): Promise<string> {
  return mintToken(await loadLocalIssuer(o.dataDir, false), o);
}
