import { MeshidError } from '../common/errors.js';
import { parseOverrides } from './annotations.js';
import type { InjectorConfig } from './config.js';
import {
  DEFAULT_CONTAINER_ANNOTATION, INIT_CONTAINER, PROXY_CONTAINER, STATUS_ANNOTATION, VOLUME_CA_ROOT, VOLUME_CERTS, VOLUME_PODINFO, VOLUME_TOKEN,
  VOLUME_WORKLOAD,
} from './constants.js';
import { mountPodCertificate, POD_CERTIFICATE_VOLUME } from './pod-certificate.js';
import { decide, type Decision } from './policy.js';
import { rewriteProbes, type ProbeRewrite } from './probes.js';
import { renderSidecar } from './render.js';
import { assertPodShape } from './shape.js';
import { readStatus, uninject, writeStatus, type InjectionStatus } from './status.js';
import { extend, type Container, type Pod } from './types.js';
import { shareWorkloadSocket } from './workload-socket.js';

export interface InjectOutcome {
  decision: Decision;
  /** The pod to admit: the input itself when skipped, a new object when injected. */
  pod: Pod;
}

/**
 * Injects one pod (or pod template). A pod that already carries a status is first un-injected,
 * so a second pass, or a reinvocation after another webhook changed the pod, renders afresh.
 * Never mutates its input.
 */
export function injectPod(input: unknown, namespace: string, config: InjectorConfig, where?: string): InjectOutcome {
  assertPodShape(input, where);
  const decision = decide(input, namespace, config);
  if (!decision.inject) return { decision, pod: input };

  const status = readStatus(input);
  const base = status ? uninject(input, status) : input;
  refuseNameClashes(base);
  const o = parseOverrides(base.metadata?.annotations, config);
  if (o.mode === 'pod-certificate') return { decision, pod: withPodCertificate(base) };
  const probes: ProbeRewrite = o.rewriteAppHTTPProbers
    ? rewriteProbes(base.spec.containers)
    : { containers: base.spec.containers, probers: {}, originals: {} };
  const sidecar = renderSidecar(o, config, probes.probers);
  const apps = shareWorkloadSocket(probes.containers);

  const userInits = base.spec.initContainers ?? [];
  let initContainers: Container[];
  let containers: Container[];
  if (o.nativeSidecar) {
    // The proxy precedes user init containers so they too reach the network through it.
    initContainers = [sidecar.init, sidecar.proxy, ...userInits];
    containers = apps.containers;
  } else {
    // Redirection goes last so user init containers still have plain network access.
    initContainers = [...userInits, sidecar.init];
    containers = o.holdApplicationUntilProxyStarts ? [sidecar.proxy, ...apps.containers] : [...apps.containers, sidecar.proxy];
  }

  const annotations: Record<string, string> = extend(base.metadata?.annotations ?? {}, {});
  const firstApp = base.spec.containers[0]?.name;
  const setDefault = annotations[DEFAULT_CONTAINER_ANNOTATION] === undefined && firstApp !== undefined;
  if (setDefault) annotations[DEFAULT_CONTAINER_ANNOTATION] = firstApp;
  const record: InjectionStatus = {
    version: 1,
    initContainers: o.nativeSidecar ? [INIT_CONTAINER, PROXY_CONTAINER] : [INIT_CONTAINER],
    containers: o.nativeSidecar ? [] : [PROXY_CONTAINER],
    volumes: sidecar.volumes.map((v) => v.name),
    created: (['initContainers', 'volumes'] as const).filter((f) => base.spec[f] === undefined),
    defaultContainer: setDefault,
    probes: probes.originals,
    workloadSocket: apps.shared,
  };
  annotations[STATUS_ANNOTATION] = writeStatus(record);

  const pod = extend(base, {
    metadata: extend(base.metadata ?? {}, { annotations }),
    spec: extend(base.spec, { initContainers, containers, volumes: [...(base.spec.volumes ?? []), ...sidecar.volumes] }),
  });
  return { decision, pod };
}

/** Identity without a sidecar: the podCertificate volume in every app container, and nothing else. */
function withPodCertificate(base: Pod): Pod {
  const { containers, mountsCreated } = mountPodCertificate(base.spec.containers);
  const record: InjectionStatus = {
    version: 1, initContainers: [], containers: [], volumes: [POD_CERTIFICATE_VOLUME.name],
    created: base.spec.volumes === undefined ? ['volumes'] : [], defaultContainer: false, probes: {},
    mode: 'pod-certificate', appMounts: [POD_CERTIFICATE_VOLUME.name], mountsCreated,
  };
  const annotations = extend(base.metadata?.annotations ?? {}, { [STATUS_ANNOTATION]: writeStatus(record) });
  return extend(base, {
    metadata: extend(base.metadata ?? {}, { annotations }),
    spec: extend(base.spec, { containers, volumes: [...(base.spec.volumes ?? []), POD_CERTIFICATE_VOLUME] }),
  });
}

const OURS = new Set([INIT_CONTAINER, PROXY_CONTAINER, VOLUME_CERTS, VOLUME_TOKEN, VOLUME_CA_ROOT, VOLUME_PODINFO, VOLUME_WORKLOAD, POD_CERTIFICATE_VOLUME.name]);

/** A user's own `meshid-*` container or volume would be silently replaced; say so instead. */
function refuseNameClashes(pod: Pod): void {
  const taken: string[] = [];
  const check = (list: Array<{ name: string }> | undefined, what: string) => {
    for (const item of list ?? []) if (OURS.has(item.name)) taken.push(`${what} ${item.name}`);
  };
  check(pod.spec.containers, 'container');
  check(pod.spec.initContainers, 'init container');
  check(pod.spec.volumes, 'volume');
  if (taken.length > 0) {
    throw new MeshidError(
      'name_clash',
      `pod already has ${taken.join(', ')} without a ${STATUS_ANNOTATION} annotation; rename it or remove it before injection`,
    );
  }
}
