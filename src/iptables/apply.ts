import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { MeshidError } from '../common/errors.js';
import { LOCKFILE_ENV, restoreCommand, type ConcreteBackend } from './backend.js';

export interface ApplyOptions {
  backend: ConcreteBackend;
  /** XTABLES_LOCKFILE for the legacy backend; undefined keeps iptables' default. */
  lockFile?: string;
  timeoutMs?: number;
}

/**
 * Feeds rules to `iptables-<backend>-restore --noflush` (or ip6tables-…): one atomic commit per table, and
 * the pod's existing rules are kept.
 */
export function applyRules(rules: string[], family: 4 | 6, o: ApplyOptions): Promise<void> {
  const command = restoreCommand(o.backend, family);
  const env = o.lockFile === undefined ? process.env : { ...process.env, [LOCKFILE_ENV]: o.lockFile };
  return run(command, ['--noflush'], `${rules.join('\n')}\n`, env, o.timeoutMs ?? 30_000);
}

/** `auto`: nft unless this kernel has no nf_tables, which a read-only listing shows without changing anything. */
export async function nftUsable(): Promise<boolean> {
  try {
    await run('iptables-nft-save', ['-t', 'nat'], '', process.env, 10_000);
    return true;
  } catch {
    return false;
  }
}

/** This network namespace's IPv6 addresses; empty where the kernel has no IPv6. */
export function readIfInet6(): string {
  try {
    return readFileSync('/proc/net/if_inet6', 'utf8');
  } catch {
    return '';
  }
}

export function writableDir(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function run(command: string, args: string[], input: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'ignore', 'pipe'], timeout: timeoutMs, env });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    child.on('error', (err) => {
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found (the image needs the iptables package)' : err.message;
      reject(new MeshidError('iptables_failed', `${command}: ${why}`));
    });
    child.on('close', (code, signal) => {
      if (code === 0) return resolve();
      const why = signal ? `killed by ${signal}` : `exit status ${code}`;
      const detail = stderr.trim().split('\n')[0];
      reject(new MeshidError('iptables_failed', `${command} failed (${why})${detail ? `: ${detail}` : ''}`));
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}
