import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The shipped CLI: the bundle `npm run build` writes next to the compiled tests, copied for this test process
 * into a folder with no node_modules above it, as the image ships it. A module the bundle left out fails the
 * test that needs it instead of being found in the repository's node_modules.
 */
export const MAIN = standaloneCopy(fileURLToPath(new URL('../../bin', import.meta.url)));

function standaloneCopy(bin: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshid-bin-'));
  cpSync(bin, dir, { recursive: true });
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'meshid.mjs');
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `meshid ARGS` to its end; never rejects, so a test can assert on a failing exit. */
export function meshid(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 30_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

export interface ServeChild {
  child: ChildProcess;
  /** The one ready line, with its newline. */
  ready: string;
  stderr(): string;
}

/** `meshid serve ARGS` as a child process, resolved once it printed its ready line (rejected if it exits first). */
export async function spawnServe(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ServeChild> {
  const child = spawn(process.execPath, [MAIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const ready = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (c) => {
      stdout += c;
      if (stdout.includes('\n')) resolve(stdout);
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
  return { child, ready, stderr: () => stderr };
}
