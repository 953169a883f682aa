import { spawn, type ChildProcess } from 'node:child_process';
import { MAIN } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

/** One `meshid …` child process with its output kept, stderr also as pino JSON records. */
export class Meshid {
  stdout = '';
  stderr = '';
  /** stdout lines with the time each arrived, for timelines. */
  readonly stdoutLines: Array<{ at: number; line: string }> = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private partial = '';

  constructor(readonly name: string, readonly proc: ChildProcess) {
    proc.stdout!.setEncoding('utf8').on('data', (c: string) => {
      this.stdout += c;
      this.partial += c;
      const lines = this.partial.split('\n');
      this.partial = lines.pop()!;
      for (const line of lines) this.stdoutLines.push({ at: Date.now(), line });
    });
    proc.stderr!.setEncoding('utf8').on('data', (c: string) => (this.stderr += c));
    this.exited = new Promise((resolve) => proc.on('close', (code, signal) => resolve((this.exit = { code, signal }))));
  }

  /** The pino records logged so far (stderr); other lines (a one-line reason) are skipped. */
  logs(): Array<Record<string, unknown> & { msg?: string; time?: number }> {
    return this.stderr.split('\n').filter((l) => l.startsWith('{')).flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return []; // a line still being written
      }
    });
  }

  /** Waits for `cond` on this child, failing at once (with its stderr) if it exits first. */
  async until(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    await waitFor(() => cond() || this.exit !== null, { timeoutMs, what: `${this.name}: ${what}` });
    if (!cond()) throw new Error(`${this.name} exited (${JSON.stringify(this.exit)}) before ${what}; stderr:\n${this.stderr.slice(-2000)}`);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.exit) this.proc.kill(signal);
    await waitFor(() => this.exit !== null, { timeoutMs, what: `${this.name} to exit after ${signal}` });
    return this.exit!;
  }
}

/** Every child a test starts, so `killAll` in t.after leaves none behind, pass or fail. */
export class Children {
  private readonly all: Meshid[] = [];

  start(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Meshid {
    const child = new Meshid(name, spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }));
    this.all.push(child);
    return child;
  }

  /** Runs a command to completion. */
  async run(name: string, args: string[], timeoutMs = 30_000, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string; lines: Meshid['stdoutLines'] }> {
    const child = this.start(name, args, env);
    await waitFor(() => child.exit !== null, { timeoutMs, what: `${name} to finish` });
    const { code } = child.exit!;
    return { code, stdout: child.stdout, stderr: child.stderr, lines: child.stdoutLines };
  }

  async killAll(): Promise<void> {
    await Promise.all(this.all.filter((c) => c.exit === null).map(async (c) => {
      c.proc.kill('SIGKILL');
      await c.exited;
    }));
  }
}

/** `meshid serve --local` as a child, and the endpoints of its one ready line. */
export async function startServe(children: Children, dataDir: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ serve: Meshid; caUrl: string; trustBundle: string; readyLine: string }> {
  const serve = children.start('serve', ['serve', '--local', '--data-dir', dataDir, '--ca-port', '0', '--istio-ca-port', '0', '--webhook-port', '0', '--monitoring-port', '0', ...extra], env);
  await serve.until(() => serve.stdout.includes('\n'), 'the ready line');
  const readyLine = serve.stdout.split('\n')[0]!;
  const m = /^meshid ready: ca=(https:\/\/127\.0\.0\.1:\d+)\/v1\/certificates webhook=https:\/\/127\.0\.0\.1:\d+\/inject monitoring=http:\/\/127\.0\.0\.1:\d+\/metrics istio-ca=127\.0\.0\.1:\d+ trust-bundle=(\S+)$/.exec(readyLine);
  if (!m) throw new Error(`unexpected ready line: ${readyLine}`);
  return { serve, caUrl: m[1]!, trustBundle: m[2]!, readyLine };
}
