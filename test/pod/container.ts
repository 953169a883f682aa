import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Image } from './images.js';
import { quote } from './shell.js';
import { fieldValue } from './volumes.js';

type Pod = Record<string, any>;
type Spec = Record<string, any>;

export interface ContainerContext {
  pod: Pod;
  ns: string;
  image: Image;
  /** Host directory of each pod volume, by name. */
  volumePath(name: string): string;
  /** The pod's /etc/hosts, written by the kubelet. */
  hostsFile: string;
  /** Scratch space for this container's overlay of missing mount points. */
  scratch: string;
}

/** Capabilities a container runtime grants by default (containerd's list), before the spec's add and drop. */
const DEFAULT_CAPS = ['chown', 'dac_override', 'fsetid', 'fowner', 'mknod', 'net_raw', 'setgid', 'setuid', 'setfcap', 'setpcap', 'net_bind_service', 'sys_chroot', 'kill', 'audit_write'];

/** The process that runs one container: its argv (through `ip netns exec`, a mount namespace, then setpriv). */
export async function containerArgv(c: Spec, ctx: ContainerContext, command: string[]): Promise<string[]> {
  const sc = securityContext(c, ctx);
  const { uid, gid } = containerUser(c, ctx);
  if (sc.runAsNonRoot && uid === 0) throw new Error(`CreateContainerConfigError: container ${c.name} has runAsNonRoot and would run as root`);
  const script = await mountScript(c, ctx, sc.readOnlyRootFilesystem === true);
  const caps = capabilities(sc.capabilities);
  const priv = ['setpriv', '--reuid', String(uid), '--regid', String(gid), '--clear-groups', '--bounding-set', caps.length ? `-all,${caps.map((x) => `+${x}`).join(',')}` : '-all'];
  if (sc.allowPrivilegeEscalation === false) priv.push('--no-new-privs');
  const env = containerEnv(c, ctx);
  const exec = [...priv, '--', 'env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...command];
  const inNetns = ctx.ns ? ['ip', 'netns', 'exec', ctx.ns] : [];
  return [...inNetns, 'unshare', '--mount', '--propagation', 'private', '--', '/bin/sh', '-c', `${script}\nexec "$@"`, 'container', ...exec];
}

function securityContext(c: Spec, ctx: ContainerContext): Spec {
  return { ...ctx.pod.spec.securityContext, ...c.securityContext };
}

/** Who the container's processes run as: the spec's runAsUser/runAsGroup, else the image's USER. */
export function containerUser(c: Spec, ctx: ContainerContext): { uid: number; gid: number } {
  const sc = securityContext(c, ctx);
  return { uid: sc.runAsUser ?? ctx.image.uid, gid: sc.runAsGroup ?? (sc.runAsUser !== undefined ? 0 : ctx.image.gid) };
}

/** The container's command as the kubelet resolves it: command replaces the ENTRYPOINT, args the CMD, $(VAR) expanded. */
export function containerCommand(c: Spec, image: Image, env: Record<string, string>): string[] {
  const argv = c.command ? [...c.command, ...(c.args ?? [])] : [...image.entrypoint, ...(c.args ?? image.cmd)];
  return argv.map((a: string) => a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name) => env[name] ?? m));
}

export function containerEnv(c: Spec, ctx: ContainerContext): Record<string, string> {
  const env: Record<string, string> = { ...ctx.image.env, HOSTNAME: ctx.pod.metadata.name };
  for (const e of (c.env ?? []) as Spec[]) {
    if (e.valueFrom?.fieldRef) env[e.name] = fieldValue(ctx.pod, e.valueFrom.fieldRef.fieldPath);
    else if (e.valueFrom) throw new Error(`env ${e.name}: the harness resolves fieldRef only`);
    else env[e.name] = String(e.value ?? '').replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name) => env[name] ?? m);
  }
  return env;
}

function capabilities(spec: { add?: string[]; drop?: string[] } | undefined): string[] {
  const norm = (x: string) => x.toLowerCase().replace(/^cap_/, '');
  const drop = (spec?.drop ?? []).map(norm);
  const base = drop.includes('all') ? [] : DEFAULT_CAPS.filter((x) => !drop.includes(x));
  return [...new Set([...base, ...(spec?.add ?? []).map(norm)])];
}

/**
 * Shell lines run in the container's new mount namespace before it starts: the image's /usr/local/bin, a /run
 * of its own, the pod's /etc/hosts, mount points made (in an overlay where the host lacks a parent), the root
 * made read-only when the spec says so, then each volume bound at its mountPath.
 */
async function mountScript(c: Spec, ctx: ContainerContext, readOnlyRoot: boolean): Promise<string> {
  const lines = ['set -e', `mount --bind ${quote(ctx.image.binDir)} /usr/local/bin`, 'mount -t tmpfs -o mode=0755 tmpfs /run'];
  const overlaid: string[] = [];
  for (const m of (c.volumeMounts ?? []) as Spec[]) {
    const target = (m.mountPath as string).replace(/^\/var\/run(\/|$)/, '/run$1');
    const parent = outsideRun(target);
    if (parent && !overlaid.includes(parent)) {
      const upper = join(ctx.scratch, `overlay${overlaid.length}`);
      await mkdir(join(upper, 'u'), { recursive: true });
      await mkdir(join(upper, 'w'), { recursive: true });
      lines.push(`mount -t overlay overlay -o lowerdir=${quote(parent)},upperdir=${quote(join(upper, 'u'))},workdir=${quote(join(upper, 'w'))} ${quote(parent)}`);
      overlaid.push(parent);
    }
    lines.push(`mkdir -p ${quote(target)}`);
  }
  // After the overlays, which would hide it; before the read-only remount, whose flag a bind mount inherits.
  lines.push(`mount --bind ${quote(ctx.hostsFile)} /etc/hosts`);
  // Volumes first: a bind mount takes the read-only flag of the mount it comes from.
  for (const m of (c.volumeMounts ?? []) as Spec[]) {
    const target = (m.mountPath as string).replace(/^\/var\/run(\/|$)/, '/run$1');
    // A mount nested in an earlier one (meshid-workload inside meshid-certs) needs its point made in that
    // volume, as the container runtime makes it.
    lines.push(`mkdir -p ${quote(target)}`, `mount --bind ${quote(join(ctx.volumePath(m.name), m.subPath ?? ''))} ${quote(target)}`);
    if (m.readOnly) lines.push(`mount -o remount,bind,ro ${quote(target)}`);
  }
  if (readOnlyRoot) lines.push('mount -o remount,bind,ro /', 'mount -o remount,ro /run', ...overlaid.map((p) => `mount -o remount,ro ${quote(p)}`));
  return lines.join('\n');
}

/** For a mount point outside /run that the host lacks, the deepest existing ancestor to overlay; else undefined. */
function outsideRun(target: string): string | undefined {
  if (target === '/run' || target.startsWith('/run/')) return undefined;
  if (existsSync(target)) return undefined;
  let dir = target;
  while (!existsSync(dir)) dir = dir.slice(0, dir.lastIndexOf('/')) || '/';
  return dir;
}

export interface Running {
  child: ChildProcess;
  /** stdout and stderr, interleaved, as `kubectl logs` shows them. */
  logs(): string;
  exited: Promise<number>;
}

/** Starts the process in its own process group, so the kubelet can kill whatever the container started. */
export function launch(argv: string[]): Running {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  const add = (d: Buffer) => {
    if (out.length < 1_000_000) out += d.toString('utf8');
  };
  child.stdout!.on('data', add);
  child.stderr!.on('data', add);
  const exited = new Promise<number>((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? 128 + signalNumber(signal) : 1))));
  child.on('error', (err) => add(Buffer.from(`${err.message}\n`)));
  return { child, logs: () => out, exited };
}

function signalNumber(signal: NodeJS.Signals): number {
  return ({ SIGKILL: 9, SIGTERM: 15, SIGINT: 2 } as Record<string, number>)[signal] ?? 1;
}
