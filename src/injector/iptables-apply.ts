import { spawn } from 'node:child_process';
import { MeshidError } from '../common/errors.js';

/**
 * Feeds rules to `iptables-restore --noflush` (or ip6tables-restore): one atomic commit per table,
 * and the pod's existing rules are kept. The only I/O in the redirection path.
 */
export function applyRules(rules: string[], family: 4 | 6, timeoutMs = 30_000): Promise<void> {
  const command = family === 4 ? 'iptables-restore' : 'ip6tables-restore';
  return new Promise((resolve, reject) => {
    const child = spawn(command, ['--noflush'], { stdio: ['pipe', 'ignore', 'pipe'], timeout: timeoutMs });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    child.on('error', (err) => reject(new MeshidError('iptables_failed', `${command}: ${err.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) return resolve();
      const why = signal ? `killed by ${signal}` : `exit status ${code}`;
      const detail = stderr.trim().split('\n')[0];
      reject(new MeshidError('iptables_failed', `${command} failed (${why})${detail ? `: ${detail}` : ''}`));
    });
    child.stdin.on('error', () => {});
    child.stdin.end(`${rules.join('\n')}\n`);
  });
}
