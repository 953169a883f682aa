import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeNewFileSynced } from '../common/atomic-write.js';
import type { Svid } from './svid.js';

export const CERT_CHAIN_FILE = 'cert-chain.pem';
export const KEY_FILE = 'key.pem';
export const ROOT_CERT_FILE = 'root-cert.pem';
const FILES = [CERT_CHAIN_FILE, KEY_FILE, ROOT_CERT_FILE] as const;

const DATA_LINK = '..data';
const VERSION_PREFIX = '..v-';

/**
 * Writes the SVID for non-Envoy apps the way kubelet writes ConfigMap volumes: the three files go into a
 * fresh directory, then one rename swaps the `..data` symlink to it. `cert-chain.pem`, `key.pem` and
 * `root-cert.pem` are symlinks through `..data`, so at every instant the directory shows one complete,
 * matching set: never a half-written file, never a key from one rotation beside a chain from another.
 * The previous set is kept until the next swap, so a reader that resolved it just before still finishes.
 */
export async function writeSvidFiles(dir: string, svid: Svid): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const version = `${VERSION_PREFIX}${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const versionDir = join(dir, version);
  await mkdir(versionDir, { mode: 0o755 });
  await writeNewFileSynced(join(versionDir, CERT_CHAIN_FILE), svid.chainPem.join(''), 0o644);
  await writeNewFileSynced(join(versionDir, KEY_FILE), svid.keyPem, 0o600);
  await writeNewFileSynced(join(versionDir, ROOT_CERT_FILE), svid.bundlePem.join(''), 0o644);

  const previous = await currentVersion(dir);
  const tmpLink = join(dir, `..data-${randomBytes(4).toString('hex')}.tmp`);
  await symlink(version, tmpLink);
  await rename(tmpLink, join(dir, DATA_LINK));
  for (const name of FILES) await ensureLink(dir, name);
  await removeOldVersions(dir, new Set([version, previous].filter((v): v is string => v !== null)));
}

async function currentVersion(dir: string): Promise<string | null> {
  try {
    return await readlink(join(dir, DATA_LINK));
  } catch {
    return null;
  }
}

/** `name -> ..data/name`, replacing in one rename whatever was there (e.g. a plain file from another tool). */
async function ensureLink(dir: string, name: string): Promise<void> {
  const path = join(dir, name);
  const target = join(DATA_LINK, name);
  try {
    const st = await lstat(path);
    if (st.isSymbolicLink() && (await readlink(path)) === target) return;
  } catch {
    // absent: created below
  }
  const tmp = join(dir, `.${name}-${randomBytes(4).toString('hex')}.tmp`);
  await symlink(target, tmp);
  await rename(tmp, path);
}

async function removeOldVersions(dir: string, keep: Set<string>): Promise<void> {
  for (const entry of await readdir(dir)) {
    if (entry.startsWith(VERSION_PREFIX) && !keep.has(entry)) await rm(join(dir, entry), { recursive: true, force: true });
  }
}
