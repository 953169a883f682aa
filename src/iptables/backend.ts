import { join } from 'node:path';

/**
 * Which iptables implementation `meshid iptables` drives. The image carries both (Debian's iptables package):
 * nft speaks nf_tables, legacy the old setsockopt interface for kernels without nf_tables.
 */
export const IPTABLES_BACKENDS = ['nft', 'legacy', 'auto'] as const;
export type IptablesBackend = (typeof IPTABLES_BACKENDS)[number];
export type ConcreteBackend = Exclude<IptablesBackend, 'auto'>;
export const DEFAULT_IPTABLES_BACKEND: IptablesBackend = 'nft';

export function parseBackend(text: string): IptablesBackend {
  if ((IPTABLES_BACKENDS as readonly string[]).includes(text)) return text as IptablesBackend;
  throw new Error(`--iptables-backend ${JSON.stringify(text.slice(0, 32))} must be one of ${IPTABLES_BACKENDS.join(', ')}`);
}

/** The versioned binary names, so the choice does not depend on where Debian's alternatives point. */
export function restoreCommand(backend: ConcreteBackend, family: 4 | 6): string {
  return `${family === 4 ? 'ip' : 'ip6'}tables-${backend}-restore`;
}

export const LOCKFILE_ENV = 'XTABLES_LOCKFILE';
/** Where iptables puts its lock by default; on a read-only root filesystem it cannot be created. */
const DEFAULT_LOCK_DIR = '/run';
/** A pod's /dev/shm is a writable tmpfs even when the root filesystem is read-only. */
const FALLBACK_LOCK_DIRS = ['/dev/shm'];

/**
 * The legacy backend takes an exclusive lock file before it touches the tables and fails without one (-w only
 * waits for it). That lock only serializes iptables runs that see the same file, and in an init container
 * nothing else runs, so any writable place will do. An operator's XTABLES_LOCKFILE is kept as given.
 */
export function chooseLockFile(env: NodeJS.ProcessEnv, writable: (dir: string) => boolean, tmpDir: string): string | undefined {
  if (env[LOCKFILE_ENV]) return env[LOCKFILE_ENV];
  if (writable(DEFAULT_LOCK_DIR)) return undefined;
  const dir = [...FALLBACK_LOCK_DIRS, tmpDir].find(writable);
  return dir === undefined ? undefined : join(dir, 'xtables.lock');
}
