import { containerArgv, containerCommand, containerEnv, launch, type ContainerContext, type Running } from './container.js';
import { runProbe, type ProbeOutcome } from './prober.js';

type Spec = Record<string, any>;
export type ProbeKind = 'startupProbe' | 'readinessProbe' | 'livenessProbe';

/** What the pod's kubelet needs from one container's life. */
export interface ContainerHooks {
  event(what: string): void;
  podIP(): string;
  /** Runs `cmd` inside this container (exec probes, postStart hooks); resolves with the exit status. */
  exec(cmd: string[], timeoutMs: number): Promise<number>;
  /** Whether an exit should be followed by a restart (the pod's restartPolicy, or Always for a sidecar). */
  restartAfter(code: number): boolean;
}

/**
 * One container: started with exactly its command, args, env, user and mounts; restarted as its policy says;
 * its probes run on their own schedules as the kubelet runs them (startup first, then readiness and liveness,
 * liveness failures restarting it). Every start, exit and probe verdict is an event.
 */
export class ContainerRun {
  running: Running | null = null;
  restarts = 0;
  started = false;
  ready = false;
  exitCode: number | undefined;
  readonly results: Record<ProbeKind, ProbeOutcome[]> = { startupProbe: [], readinessProbe: [], livenessProbe: [] };
  private logText = '';
  private stopped = false;
  private timers: NodeJS.Timeout[] = [];
  private startupPassed = false;

  /** `init`: one of the pod's initContainers (a native sidecar when its restartPolicy is Always). */
  constructor(readonly spec: Spec, readonly init: boolean, private readonly ctx: ContainerContext, private readonly hooks: ContainerHooks) {}

  get sidecar(): boolean {
    return this.init && this.spec.restartPolicy === 'Always';
  }

  get name(): string {
    return this.spec.name;
  }

  logs(): string {
    return this.logText + (this.running?.logs() ?? '');
  }

  /** Starts the process and, once its postStart hook (if any) has finished, reports it started. */
  async start(): Promise<void> {
    const env = containerEnv(this.spec, this.ctx);
    const argv = await containerArgv(this.spec, this.ctx, containerCommand(this.spec, this.ctx.image, env));
    const running = launch(argv);
    this.running = running;
    this.exitCode = undefined;
    this.hooks.event(`start ${this.name}`);
    void running.exited.then((code) => this.onExit(running, code));
    const hook = this.spec.lifecycle?.postStart?.exec?.command as string[] | undefined;
    if (hook) {
      const code = await this.hooks.exec(hook, 120_000);
      this.hooks.event(`postStart ${this.name} ${code}`);
      if (code !== 0) {
        running.child.kill('SIGKILL');
        throw new Error(`FailedPostStartHook: ${this.name}'s postStart hook exited ${code}`);
      }
    }
    this.started = true;
    this.startupPassed = !this.spec.startupProbe;
    this.schedule('startupProbe');
    this.schedule('readinessProbe');
    this.schedule('livenessProbe');
  }

  /** Resolves once the startup probe has passed (at once without one). */
  async startedUp(timeoutMs = 120_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!this.startupPassed && !this.stopped) {
      if (Date.now() > end) throw new Error(`${this.name}: startup probe did not pass in ${timeoutMs} ms:\n${this.logs()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM to the main process, then SIGKILL to everything the container started after the grace period. */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    const r = this.running;
    if (!r || r.child.exitCode !== null || r.child.signalCode !== null) return;
    r.child.kill('SIGTERM');
    const kill = setTimeout(() => killGroup(r), graceMs);
    await r.exited;
    clearTimeout(kill);
    killGroup(r);
  }

  private onExit(r: Running, code: number): void {
    if (r !== this.running) return;
    killGroup(r);
    this.logText += r.logs();
    this.running = null;
    this.exitCode = code;
    this.started = false;
    this.ready = false;
    this.hooks.event(`exit ${this.name} ${code}`);
    if (this.stopped || !this.hooks.restartAfter(code)) return;
    this.restarts++;
    this.timers.push(setTimeout(() => void this.start().catch((err) => this.hooks.event(`error ${this.name} ${(err as Error).message}`)), 1000));
  }

  private schedule(kind: ProbeKind): void {
    const probe = this.spec[kind];
    if (!probe) return;
    const r = this.running;
    let failures = 0;
    let successes = 0;
    const tick = async (): Promise<void> => {
      if (this.stopped || this.running !== r) return;
      if (kind !== 'startupProbe' && !this.startupPassed) return void this.timers.push(setTimeout(tick, 100));
      const outcome = await runProbe(probe, this.spec, this.hooks.podIP(), (cmd, ms) => this.hooks.exec(cmd, ms)).catch((err) => ({ ok: false, detail: String(err.message) }));
      if (this.stopped || this.running !== r) return;
      this.results[kind].push(outcome);
      if (outcome.ok) [failures, successes] = [0, successes + 1];
      else [failures, successes] = [failures + 1, 0];
      if (this.verdict(kind, outcome, successes, failures, probe) === 'done') return;
      this.timers.push(setTimeout(tick, (probe.periodSeconds ?? 10) * 1000));
    };
    this.timers.push(setTimeout(tick, (probe.initialDelaySeconds ?? 0) * 1000));
  }

  private verdict(kind: ProbeKind, outcome: ProbeOutcome, successes: number, failures: number, probe: Spec): 'done' | 'again' {
    const threshold = probe.failureThreshold ?? 3;
    if (kind === 'startupProbe') {
      if (outcome.ok) {
        this.startupPassed = true;
        this.hooks.event(`startup ${this.name} passed`);
        return 'done';
      }
      if (failures >= threshold) this.restart(`startup probe failed ${failures} times: ${outcome.detail}`);
      return failures >= threshold ? 'done' : 'again';
    }
    if (kind === 'readinessProbe') {
      const ready = successes >= (probe.successThreshold ?? 1) ? true : failures >= threshold ? false : this.ready;
      if (ready !== this.ready) this.hooks.event(`${ready ? 'ready' : 'unready'} ${this.name}${ready ? '' : `: ${outcome.detail}`}`);
      this.ready = ready;
      return 'again';
    }
    if (failures >= threshold) {
      this.restart(`liveness probe failed ${failures} times: ${outcome.detail}`);
      return 'done';
    }
    return 'again';
  }

  private restart(why: string): void {
    this.hooks.event(`kill ${this.name}: ${why}`);
    this.running?.child.kill('SIGTERM');
  }

  /** Containers without a readiness probe are ready once started (and past their startup probe). */
  isReady(): boolean {
    return this.spec.readinessProbe ? this.ready : this.started && this.startupPassed;
  }
}

function killGroup(r: Running): void {
  try {
    process.kill(-r.child.pid!, 'SIGKILL');
  } catch {
    // The group is already gone.
  }
}
