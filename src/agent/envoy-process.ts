import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import type { Logger } from '../common/log.js';
import { retryDelay } from './rotation.js';
import type { Timers } from './timers.js';

export interface EnvoyProcessOptions {
  binary: string;
  configPath: string;
  adminPort: number;
  logger: Logger;
  timers: Timers;
  random: () => number;
  /** How long Envoy gets to drain on stop before it is killed. */
  drainMs?: number;
  extraArgs?: string[];
}

/** A run this long counts as healthy, so the next crash starts the backoff from the beginning. */
const STABLE_MS = 30_000;

/**
 * Starts Envoy with the generated bootstrap and keeps it running: an unexpected exit is logged and followed
 * by a restart after a capped, jittered backoff. Stop sends SIGTERM, then SIGKILL after the drain time.
 */
export class EnvoyProcess {
  private child: ChildProcess | null = null;
  private quickExits = 0;
  private stopping = false;
  private cancelRestart: (() => void) | null = null;
  private startedAt = 0;

  constructor(private readonly o: EnvoyProcessOptions) {}

  start(): void {
    if (this.stopping) return;
    const args = ['-c', this.o.configPath, '--drain-time-s', '5', ...(this.o.extraArgs ?? [])];
    const child = spawn(this.o.binary, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    this.child = child;
    this.startedAt = Date.now();
    this.o.logger.info({ binary: this.o.binary, pid: child.pid }, 'proxy started');
    child.once('error', (err) => this.o.logger.error({ binary: this.o.binary }, `cannot start the proxy: ${err.message}`));
    child.once('exit', (code, signal) => this.onExit(child, code, signal));
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Up when the process runs and Envoy's admin /ready answers 200 (state LIVE). */
  async ready(): Promise<boolean> {
    if (!this.child || this.child.exitCode !== null) return false;
    return new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port: this.o.adminPort, path: '/ready', timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.cancelRestart?.();
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), this.o.drainMs ?? 10_000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child || this.stopping) return;
    const attempt = Date.now() - this.startedAt >= STABLE_MS ? 0 : this.quickExits;
    this.quickExits = attempt + 1;
    const delay = retryDelay(attempt, this.o.random(), 0, null, { baseMs: 1000, maxMs: 30_000 });
    this.o.logger.error({ code, signal, restartInMs: delay }, 'proxy exited unexpectedly; restarting');
    this.cancelRestart = this.o.timers.after(delay, () => this.start());
  }
}
