import { MeshidError } from '../common/errors.js';
import { DEFAULT_CONTAINER_ANNOTATION, STATUS_ANNOTATION } from './constants.js';
import type { OriginalProbes } from './probes.js';
import { restoreProbes } from './probes.js';
import { unmountPodCertificate } from './pod-certificate.js';
import { isObject, type ObjectMeta, type Pod } from './types.js';
import { unshareWorkloadSocket } from './workload-socket.js';

/** The `meshid.io/status` annotation: enough to take an injection back out exactly. */
export interface InjectionStatus {
  version: 1;
  initContainers: string[];
  containers: string[];
  volumes: string[];
  /** Pod fields that did not exist before injection and are dropped again when emptied. */
  created: Array<'initContainers' | 'volumes'>;
  defaultContainer: boolean;
  probes: OriginalProbes;
  /** App containers given the Workload API socket (absent in statuses written before it existed). */
  workloadSocket?: string[];
  /** pod-certificate mode: volumes mounted into the app containers, and the containers whose volumeMounts injection created. */
  mode?: 'pod-certificate';
  appMounts?: string[];
  mountsCreated?: string[];
}

export function writeStatus(s: InjectionStatus): string {
  return JSON.stringify(s);
}

const MAX_STATUS_LENGTH = 256 * 1024;

/** null when the pod was never injected; a malformed status is refused rather than guessed at. */
export function readStatus(pod: Pod): InjectionStatus | null {
  const raw = pod.metadata?.annotations?.[STATUS_ANNOTATION];
  if (raw === undefined) return null;
  const fail = (why: string) => new MeshidError('invalid_status', `annotation ${STATUS_ANNOTATION} ${why}; remove it to inject afresh`);
  if (typeof raw !== 'string' || raw.length > MAX_STATUS_LENGTH) throw fail('is not a meshid status');
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw fail('is not JSON');
  }
  const names = (x: unknown) => Array.isArray(x) && x.every((n) => typeof n === 'string');
  if (!isObject(v) || v.version !== 1 || !names(v.initContainers) || !names(v.containers) || !names(v.volumes) || !names(v.created)) {
    throw fail('is not a version 1 meshid status');
  }
  if (!isObject(v.probes) || !Object.values(v.probes).every(isObject)) throw fail('has malformed probes');
  if (v.workloadSocket !== undefined && !names(v.workloadSocket)) throw fail('has a malformed workloadSocket list');
  if ((v.appMounts !== undefined && !names(v.appMounts)) || (v.mountsCreated !== undefined && !names(v.mountsCreated))) throw fail('has malformed mounts');
  return { ...(v as unknown as InjectionStatus), defaultContainer: v.defaultContainer === true };
}

/** The pod as it was before injection: what the status lists removed, original probes restored. */
export function uninject(pod: Pod, status: InjectionStatus): Pod {
  const spec = { ...pod.spec };
  const without = <T extends { name: string }>(list: T[] | undefined, names: string[]) => list?.filter((x) => !names.includes(x.name));
  spec.containers = unshareWorkloadSocket(restoreProbes(without(spec.containers, status.containers) ?? [], status.probes), status.workloadSocket);
  if (status.appMounts?.length) spec.containers = unmountPodCertificate(spec.containers, status.appMounts, status.mountsCreated ?? []);
  if (spec.initContainers) spec.initContainers = without(spec.initContainers, status.initContainers);
  spec.volumes = without(spec.volumes, status.volumes);
  for (const field of status.created) {
    if (spec[field]?.length === 0) delete spec[field];
  }
  const annotations = { ...pod.metadata?.annotations };
  delete annotations[STATUS_ANNOTATION];
  if (status.defaultContainer) delete annotations[DEFAULT_CONTAINER_ANNOTATION];
  const metadata: ObjectMeta = { ...pod.metadata, annotations };
  if (Object.keys(annotations).length === 0) delete metadata.annotations;
  return { ...pod, metadata, spec };
}
