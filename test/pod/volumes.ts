import { chmod, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { IssuedCredential, PodCertificateIssuer, PodCertificateSource } from './pod-certificates.js';

/** Where the kubelet gets what volumes need from the cluster: the API's objects and the token issuer. */
export interface VolumeSources {
  configMap(namespace: string, name: string): Record<string, string> | undefined;
  token(o: { namespace: string; serviceAccount: string; pod: { name: string; uid: string }; audience: string; expirationSeconds: number }): Promise<string>;
  /** podCertificate sources: a PodCertificateRequest through the API (pod-certificates.ts). */
  podCertificate?: PodCertificateIssuer;
}

type Pod = Record<string, any>;

/**
 * A pod's volumes as the kubelet makes them, each a directory under `root`: emptyDir fresh and world-writable;
 * ConfigMap and projected volumes written with the kubelet's atomic writer layout (a timestamped directory, a
 * `..data` link swapped in one rename, one link per key), so readers never see half an update; the
 * ServiceAccount token minted for the pod with the audience and expiry the spec asks and replaced at 80% of its
 * life; a podCertificate source's key and chain from a PodCertificateRequest, asked again at its beginRefreshAt;
 * ConfigMaps re-read as the kubelet's sync does and rewritten when they change.
 */
export class PodVolumes {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly written = new Map<string, string>();
  private readonly tokens = new Map<string, { token: string; renewAt: number }>();
  private readonly credentials = new Map<string, IssuedCredential>();
  private stopped = false;

  constructor(private readonly pod: Pod, private readonly root: string, private readonly sources: VolumeSources) {}

  path(volume: string): string {
    return join(this.root, volume);
  }

  /** Resolves once every volume is written; waits, as the kubelet does, for a ConfigMap that does not exist yet. */
  async setUp(syncMs = 200): Promise<void> {
    for (const v of (this.pod.spec.volumes ?? []) as Pod[]) {
      const dir = this.path(v.name);
      await mkdir(dir, { recursive: true });
      if (v.emptyDir) await chmod(dir, 0o777);
      else if (v.configMap || v.projected || v.downwardAPI) await this.keepWritten(v, syncMs);
      else throw new Error(`volume ${v.name}: the harness makes emptyDir, configMap, projected and downwardAPI volumes only`);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
  }

  private async keepWritten(v: Pod, syncMs: number): Promise<void> {
    for (;;) {
      const files = await this.files(v);
      if (files) {
        await this.write(v.name, files);
        break;
      }
      await new Promise((r) => setTimeout(r, syncMs));
      if (this.stopped) return;
    }
    const sync = async (): Promise<void> => {
      if (this.stopped) return;
      const files = await this.files(v).catch(() => undefined);
      if (files) await this.write(v.name, files);
      this.timers.push(setTimeout(() => void sync(), syncMs));
    };
    this.timers.push(setTimeout(() => void sync(), syncMs));
  }

  /** The volume's files now; undefined while a source it needs is missing. */
  private async files(v: Pod): Promise<Record<string, string> | undefined> {
    const ns = this.pod.metadata.namespace as string;
    if (v.configMap) return this.sources.configMap(ns, v.configMap.name);
    if (v.downwardAPI) return downward(this.pod, v.downwardAPI.items);
    const out: Record<string, string> = {};
    for (const s of v.projected.sources as Pod[]) {
      if (s.serviceAccountToken) out[s.serviceAccountToken.path] = await this.token(s.serviceAccountToken);
      else if (s.configMap) {
        const data = this.sources.configMap(ns, s.configMap.name);
        if (!data) return undefined;
        for (const item of s.configMap.items ?? Object.keys(data).map((key) => ({ key, path: key }))) out[item.path] = data[item.key]!;
      } else if (s.downwardAPI) Object.assign(out, downward(this.pod, s.downwardAPI.items));
      else if (s.podCertificate) Object.assign(out, await this.podCertificate(v.name, s.podCertificate));
      else throw new Error(`volume ${v.name}: unsupported projected source ${Object.keys(s).join(',')}`);
    }
    return out;
  }

  private async podCertificate(volume: string, source: Pod): Promise<Record<string, string>> {
    const key = `${volume}|${JSON.stringify(source)}`;
    const held = this.credentials.get(key);
    if (held && Date.now() < held.refreshAt) return held.files;
    if (!this.sources.podCertificate) throw new Error(`volume ${volume}: a podCertificate source needs the harness's PodCertificateRequest step`);
    const issued = await this.sources.podCertificate({
      namespace: this.pod.metadata.namespace, pod: { name: this.pod.metadata.name, uid: this.pod.metadata.uid }, serviceAccount: this.pod.spec.serviceAccountName ?? 'default', source: source as PodCertificateSource,
    });
    this.credentials.set(key, issued);
    return issued.files;
  }

  private async token(s: { audience?: string; expirationSeconds?: number; path: string }): Promise<string> {
    const key = `${s.audience}|${s.path}`;
    const held = this.tokens.get(key);
    if (held && Date.now() < held.renewAt) return held.token;
    const expirationSeconds = s.expirationSeconds ?? 3600;
    const token = await this.sources.token({
      namespace: this.pod.metadata.namespace, serviceAccount: this.pod.spec.serviceAccountName ?? 'default',
      pod: { name: this.pod.metadata.name, uid: this.pod.metadata.uid }, audience: s.audience ?? 'https://kubernetes.default.svc', expirationSeconds,
    });
    this.tokens.set(key, { token, renewAt: Date.now() + expirationSeconds * 800 });
    return token;
  }

  private async write(name: string, files: Record<string, string>): Promise<void> {
    const text = JSON.stringify(files);
    if (this.written.get(name) === text) return;
    const dir = this.path(name);
    const stamp = `..${Date.now()}_${Math.random().toString(36).slice(2, 8)}`;
    await mkdir(join(dir, stamp), { mode: 0o755 });
    for (const [file, content] of Object.entries(files)) await writeFile(join(dir, stamp, file), content, { mode: 0o644 });
    await symlink(stamp, join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    for (const file of Object.keys(files)) await symlink(join('..data', file), join(dir, file)).catch(() => undefined);
    const previous = this.written.get(`${name}#dir`);
    if (previous) await rm(join(dir, previous), { recursive: true, force: true });
    this.written.set(name, text);
    this.written.set(`${name}#dir`, stamp);
  }
}

/** Downward API files: labels and annotations as `key="value"` lines, sorted, as the kubelet writes them. */
function downward(pod: Pod, items: Pod[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const path = item.fieldRef?.fieldPath as string;
    const map = path === 'metadata.labels' ? pod.metadata.labels : path === 'metadata.annotations' ? pod.metadata.annotations : undefined;
    if (map !== undefined || path === 'metadata.labels' || path === 'metadata.annotations') {
      out[item.path] = Object.keys(map ?? {}).sort().map((k) => `${k}=${JSON.stringify(map[k])}\n`).join('');
    } else out[item.path] = String(fieldValue(pod, path));
  }
  return out;
}

/** A downward API field of the pod, as env `fieldRef` and volume items resolve it. */
export function fieldValue(pod: Pod, fieldPath: string): string {
  const label = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (label) return pod.metadata[label[1]!]?.[label[2]!] ?? '';
  switch (fieldPath) {
    case 'metadata.name': return pod.metadata.name;
    case 'metadata.namespace': return pod.metadata.namespace;
    case 'metadata.uid': return pod.metadata.uid;
    case 'spec.serviceAccountName': return pod.spec.serviceAccountName ?? 'default';
    case 'spec.nodeName': return pod.spec.nodeName ?? '';
    case 'status.podIP': return pod.status?.podIP ?? '';
    case 'status.podIPs': return (pod.status?.podIPs ?? []).map((p: { ip: string }) => p.ip).join(',');
    case 'status.hostIP': return pod.status?.hostIP ?? '';
    default: throw new Error(`fieldRef ${fieldPath} is not one the harness resolves`);
  }
}
