import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerEnv, containerUser, type ContainerContext } from './container.js';
import { ContainerRun } from './container-run.js';
import type { ImageRegistry } from './images.js';
import type { NetHost, PodNetwork } from './network.js';
import { PodVolumes, type VolumeSources } from './volumes.js';

type Pod = Record<string, any>;
type Spec = Record<string, any>;

export interface KubeletDeps {
  images: ImageRegistry;
  network: PodNetwork;
  sources: VolumeSources;
  /** The pod's status as the kubelet reports it to the API server. */
  reportStatus(pod: Pod): void;
  /** Names the pod resolves besides its own (cluster DNS's answers for Services), into its /etc/hosts. */
  hosts: Record<string, string>;
  nodeName: string;
}

/**
 * One pod run as the kubelet runs it: a network namespace and volumes first; init containers in order, each
 * to exit 0, except native sidecars (restartPolicy Always), which start and, with a startup probe, must pass it
 * before the next container starts; then the app containers in order, each waiting for its postStart hook.
 * When every app container of a pod that does not restart them has ended, the sidecars are stopped and the pod
 * ends. The timeline of starts, exits and probe verdicts is kept in `events`.
 */
export class PodRun {
  readonly events: Array<{ at: number; what: string }> = [];
  readonly containers = new Map<string, ContainerRun>();
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' = 'Pending';
  host: NetHost | null = null;
  private volumes: PodVolumes | null = null;
  private root = '';
  private ended: Promise<void> | null = null;
  private startError: Error | null = null;
  private deleted = false;

  constructor(readonly pod: Pod, private readonly deps: KubeletDeps) {}

  get ip(): string {
    return this.host?.ipv4 ?? '';
  }

  container(name: string): ContainerRun {
    const c = this.containers.get(name);
    if (!c) throw new Error(`pod ${this.pod.metadata.name} has no container ${name} (has ${[...this.containers.keys()].join(', ')})`);
    return c;
  }

  event(what: string): void {
    this.events.push({ at: Date.now(), what });
  }

  /** Index of the first event matching `re`, for ordering assertions; -1 if none. */
  indexOf(re: RegExp): number {
    return this.events.findIndex((e) => re.test(e.what));
  }

  /** Starts the pod in the background, as the kubelet does; a failure to start shows in every wait. */
  begin(o: { ipv6?: boolean } = {}): void {
    this.start(o).catch((err: Error) => {
      this.startError = err;
      this.event(`error ${err.message}`);
    });
  }

  volumePath(name: string): string {
    return this.volumes!.path(name);
  }

  async start(o: { ipv6?: boolean } = {}): Promise<void> {
    const spec = this.pod.spec;
    this.root = await mkdtemp(join(tmpdir(), 'mpod-'));
    this.pod.spec.nodeName ??= this.deps.nodeName;
    if (!spec.hostNetwork) this.host = await this.deps.network.addHost(o);
    const ips = this.host ? [this.host.ipv4, ...(this.host.ipv6 ? [this.host.ipv6] : [])] : ['127.0.0.1'];
    this.pod.status = { phase: 'Pending', hostIP: this.deps.network.gateway4, podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) };
    this.report();
    const hostsFile = join(this.root, 'hosts');
    const names = Object.entries(this.deps.hosts).map(([name, ip]) => `${ip}\t${name}`);
    await writeFile(hostsFile, ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost', `${ips[0]}\t${this.pod.metadata.name}`, ...names, ''].join('\n'), { mode: 0o644 });
    this.volumes = new PodVolumes(this.pod, join(this.root, 'volumes'), this.deps.sources);
    await this.volumes.setUp();
    for (const c of (spec.initContainers ?? []) as Spec[]) {
      if (this.deleted) return;
      const run = this.make(c, hostsFile, c.restartPolicy === 'Always' ? () => true : (code) => code !== 0 && spec.restartPolicy !== 'Never');
      await run.start();
      if (c.restartPolicy === 'Always') await run.startedUp();
      else {
        const code = await this.exitOf(run);
        if (code !== 0) return this.fail(`init container ${c.name} exited ${code}:\n${run.logs()}`);
      }
    }
    this.phase = 'Running';
    this.report();
    const restart = spec.restartPolicy ?? 'Always';
    for (const c of spec.containers as Spec[]) {
      if (this.deleted) return;
      const run = this.make(c, hostsFile, (code) => restart === 'Always' || (restart === 'OnFailure' && code !== 0));
      await run.start();
    }
    if (restart !== 'Always') this.ended = this.endWhenAppsExit();
  }

  /** Resolves once every container counts as ready (the pod's Ready condition). */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    await this.waitFor(() => this.phase === 'Running' && [...this.containers.values()].filter((c) => !c.init || c.sidecar).every((c) => c.isReady()), timeoutMs, 'ready');
  }

  async waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!cond()) {
      if (this.startError) throw new Error(`pod ${this.pod.metadata.name} failed to start: ${this.startError.message}\n${this.timeline()}\n${this.allLogs()}`);
      if (Date.now() > end) throw new Error(`pod ${this.pod.metadata.name} not ${what} after ${timeoutMs} ms; events:\n${this.timeline()}\n${this.allLogs()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** A Job's pod: resolves with its final phase. */
  async completion(timeoutMs = 60_000): Promise<string> {
    await this.waitFor(() => this.phase === 'Succeeded' || this.phase === 'Failed', timeoutMs, 'finished');
    return this.phase;
  }

  timeline(): string {
    const t0 = this.events[0]?.at ?? 0;
    return this.events.map((e) => `  +${e.at - t0}ms ${e.what}`).join('\n');
  }

  allLogs(): string {
    return [...this.containers.values()].map((c) => `--- ${c.name}\n${c.logs()}`).join('\n');
  }

  /** Runs `cmd` inside container `name` (its namespaces, user and env), as `kubectl exec` does. */
  exec(name: string, cmd: string[], timeoutMs = 10_000): Promise<{ code: number; output: string }> {
    const c = this.container(name);
    const pid = c.running?.child.pid;
    if (!pid) return Promise.resolve({ code: 126, output: `container ${name} is not running` });
    const ctx = this.contextFor(c.spec, '');
    const { uid, gid } = containerUser(c.spec, ctx);
    const env = Object.entries(containerEnv(c.spec, ctx)).map(([k, v]) => `${k}=${v}`);
    const argv = ['--target', String(pid), '--mount', '--net', '--', 'setpriv', '--reuid', String(uid), '--regid', String(gid), '--clear-groups', '--', 'env', '-i', ...env, ...cmd];
    return new Promise((resolve) => {
      const child = spawn('nsenter', argv, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
      let output = '';
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
      child.on('close', (code) => resolve({ code: code ?? 1, output }));
    });
  }

  /** Deletion: app containers, then sidecars in reverse order, each SIGTERM then SIGKILL after the grace period. */
  async stop(): Promise<void> {
    // A pod deleted while it starts starts nothing more.
    this.deleted = true;
    const grace = (this.pod.spec.terminationGracePeriodSeconds ?? 30) * 1000;
    const all = [...this.containers.values()];
    await Promise.all(all.filter((c) => !c.init).map((c) => c.stop(grace)));
    for (const c of all.filter((x) => x.init).reverse()) await c.stop(grace);
    this.volumes?.stop();
    await this.ended;
    if (this.root) await rm(this.root, { recursive: true, force: true });
  }

  private make(c: Spec, hostsFile: string, restartAfter: (code: number) => boolean): ContainerRun {
    const run = new ContainerRun(c, (this.pod.spec.initContainers ?? []).includes(c), this.contextFor(c, hostsFile), {
      event: (what) => this.event(what),
      podIP: () => this.pod.status.podIP,
      exec: async (cmd, ms) => (await this.exec(c.name, cmd, ms)).code,
      restartAfter,
    });
    this.containers.set(c.name, run);
    return run;
  }

  private contextFor(c: Spec, hostsFile: string): ContainerContext {
    return {
      pod: this.pod, ns: this.host?.ns ?? '', image: this.deps.images.pull(c.image), hostsFile, scratch: join(this.root, 'scratch', c.name),
      volumePath: (name) => this.volumes!.path(name),
    };
  }

  private async exitOf(run: ContainerRun): Promise<number> {
    await this.waitFor(() => run.exitCode !== undefined, 60_000, `past init container ${run.name}`);
    return run.exitCode!;
  }

  private async endWhenAppsExit(): Promise<void> {
    const apps = [...this.containers.values()].filter((c) => !c.init);
    await this.waitFor(() => apps.every((c) => c.exitCode !== undefined && !c.running && (c.exitCode === 0 || this.pod.spec.restartPolicy === 'Never')), 300_000, 'done');
    const sidecars = [...this.containers.values()].filter((c) => c.sidecar).reverse();
    for (const s of sidecars) await s.stop((this.pod.spec.terminationGracePeriodSeconds ?? 30) * 1000);
    this.phase = apps.every((c) => c.exitCode === 0) ? 'Succeeded' : 'Failed';
    this.event(`pod ${this.phase}`);
    this.report();
  }

  private fail(why: string): void {
    this.phase = 'Failed';
    this.event(`pod Failed: ${why}`);
    this.report();
  }

  private report(): void {
    this.pod.status.phase = this.phase;
    this.deps.reportStatus(this.pod);
  }
}
