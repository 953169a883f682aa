import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function openssl(args: string[], cwd?: string): Promise<{ stdout: string; stderr: string }> {
  return run('openssl', args, { cwd, maxBuffer: 16 * 1024 * 1024 });
}

export async function tempDir(prefix = 'meshid-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export type OpensslKey = 'ec:P-256' | 'ec:P-384' | 'ec:secp256k1' | 'ec:P-521' | `rsa:${number}`;

/** A CSR made by `openssl req`, the way an operator or another tool would make one. */
export async function opensslCsr(o: { key?: OpensslKey; subj?: string; san?: string; ext?: string[]; digest?: string } = {}): Promise<{ csr: string; key: string }> {
  const dir = await tempDir();
  const key = o.key ?? 'ec:P-256';
  const keyArgs = key.startsWith('rsa:')
    ? ['-newkey', key]
    : ['-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${key.slice(3)}`];
  const args = ['req', '-new', ...keyArgs, '-nodes', '-keyout', 'key.pem', '-out', 'req.csr', '-subj', o.subj ?? '/'];
  if (o.san) args.push('-addext', `subjectAltName=${o.san}`);
  for (const e of o.ext ?? []) args.push('-addext', e);
  if (o.digest) args.push(`-${o.digest}`);
  await openssl(args, dir);
  return { csr: await readFile(join(dir, 'req.csr'), 'utf8'), key: await readFile(join(dir, 'key.pem'), 'utf8') };
}

/** `openssl verify` of a leaf against roots, with the rest of the chain as untrusted intermediates. */
export async function opensslVerify(leafPem: string, chainPems: string[], rootsPem: string, purpose: 'sslclient' | 'sslserver' | 'any'): Promise<string> {
  const dir = await tempDir();
  await writeFile(join(dir, 'leaf.pem'), leafPem);
  await writeFile(join(dir, 'roots.pem'), rootsPem);
  await writeFile(join(dir, 'chain.pem'), chainPems.join('') || rootsPem);
  const { stdout } = await openssl(['verify', '-x509_strict', '-purpose', purpose, '-CAfile', 'roots.pem', '-untrusted', 'chain.pem', 'leaf.pem'], dir);
  return stdout.trim();
}

export async function opensslText(certPem: string): Promise<string> {
  const dir = await tempDir();
  await writeFile(join(dir, 'c.pem'), certPem);
  return (await openssl(['x509', '-in', 'c.pem', '-noout', '-text'], dir)).stdout;
}
