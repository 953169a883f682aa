import type { Overrides } from './annotations.js';
import type { InjectorConfig } from './config.js';
import { APP_PROBES_ENV, encodeAppProbes, type AppProbeAction } from '../common/app-probes-env.js';
import {
  MOUNT_CA_ROOT, MOUNT_CERTS, MOUNT_PODINFO, MOUNT_TOKEN, MOUNT_WORKLOAD, POD_ENV, POD_PATHS, PORTS, READY_PATH, TOKEN_AUDIENCE, TOKEN_FILE,
  TRUST_BUNDLE_CONFIGMAP,
} from '../common/pod-contract.js';
import { INIT_CONTAINER, PROXY_CONTAINER, VOLUME_CA_ROOT, VOLUME_CERTS, VOLUME_PODINFO, VOLUME_TOKEN, VOLUME_WORKLOAD } from './constants.js';
import { redirectArgs } from '../iptables/args.js';
import { rendered, withItem, withKey } from './json.js';
import type { Container, Volume } from './types.js';

export interface Sidecar {
  init: Container;
  proxy: Container;
  volumes: Volume[];
}

/**
 * V8 settings for `meshid agent`, chosen by `npm run bench` (its RSS after 1,000 rotations, 87 MB without
 * them): --max-semi-space-size=1 stops the young generation growing to 16 MB semi-spaces after the
 * start-up burst (the agent then allocates little), 67-70 MB alone; --jitless leaves out the optimizing
 * compilers, their code and their pages of the node binary, where the work is native crypto and I/O,
 * 70 MB alone; both 58 MB, flat. Start-up and renewal times stay within the bench's noise.
 */
const AGENT_NODE_OPTIONS = '--max-semi-space-size=1 --jitless';

const renderings = new WeakMap<InjectorConfig, WeakMap<Overrides, Sidecar>>();

/**
 * What gets added to a pod; nothing here reads the pod except through the arguments. Everything but
 * the app probes depends only on the configuration and the overrides, so it is rendered once per
 * pair, frozen, and shared (its JSON text with it, see json.ts); only the probes are per pod.
 * parseOverrides returns the same frozen object for the same annotations, which is what makes the
 * memo hit; `o` must not change once rendered.
 */
export function renderSidecar(o: Overrides, config: InjectorConfig, probers: Record<string, AppProbeAction>): Sidecar {
  const base = renderedFor(o, config);
  if (Object.keys(probers).length === 0) return base;
  // Built from the rendered parts so that their JSON text is reused, not serialized again per pod.
  const env = withItem(base.proxy.env!, { name: APP_PROBES_ENV, value: encodeAppProbes(probers) });
  return { ...base, proxy: withKey(base.proxy, 'env', env) };
}

function renderedFor(o: Overrides, config: InjectorConfig): Sidecar {
  let byOverrides = renderings.get(config);
  if (!byOverrides) renderings.set(config, (byOverrides = new WeakMap()));
  let sidecar = byOverrides.get(o);
  if (!sidecar) byOverrides.set(o, (sidecar = rendered(renderTemplate(o, config))));
  return sidecar;
}

/** Must stay a pure function of its arguments: its result is memoized on them. */
function renderTemplate(o: Overrides, config: InjectorConfig): Sidecar {
  const resources = {
    requests: { cpu: o.proxyCPU, memory: o.proxyMemory },
    limits: { cpu: o.proxyCPULimit, memory: o.proxyMemoryLimit },
  };
  const init: Container = {
    name: INIT_CONTAINER,
    image: o.proxyImage,
    imagePullPolicy: config.imagePullPolicy,
    command: ['meshid', 'iptables', ...redirectArgs(o, config.proxyUid)],
    resources,
    securityContext: {
      // iptables needs root in the pod's network namespace, and no more than these two capabilities.
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
    },
  };
  return { init, proxy: renderProxy(o, config, resources), volumes: renderVolumes(config) };
}

function renderProxy(o: Overrides, config: InjectorConfig, resources: object): Container {
  const fieldEnv = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } });
  const env: unknown[] = [
    fieldEnv(POD_ENV.podName, 'metadata.name'),
    fieldEnv(POD_ENV.namespace, 'metadata.namespace'),
    fieldEnv(POD_ENV.serviceAccount, 'spec.serviceAccountName'),
    fieldEnv(POD_ENV.podIp, 'status.podIP'),
    fieldEnv(POD_ENV.podIps, 'status.podIPs'),
    fieldEnv(POD_ENV.nodeName, 'spec.nodeName'),
    { name: POD_ENV.caAddr, value: config.caAddress },
    { name: POD_ENV.trustDomain, value: config.trustDomain },
    { name: POD_ENV.nodeOptions, value: AGENT_NODE_OPTIONS },
  ];
  const readyCheck = { httpGet: { path: READY_PATH, port: PORTS.agentHealth, scheme: 'HTTP' }, timeoutSeconds: 3 };
  const proxy: Container = {
    name: PROXY_CONTAINER,
    image: o.proxyImage,
    imagePullPolicy: config.imagePullPolicy,
    command: ['meshid', 'agent'],
    args: [
      `--sds-socket=${POD_PATHS.sdsSocket}`,
      `--workload-socket=${POD_PATHS.workloadSocket}`,
      `--out-dir=${POD_PATHS.outDir}`,
      `--ca-root=${POD_PATHS.caRootFile}`,
      `--token-file=${POD_PATHS.tokenFile}`,
      `--envoy-binary=${POD_PATHS.envoyBinary}`,
      `--envoy-config=${POD_PATHS.envoyConfig}`,
    ],
    env,
    ports: [
      { name: 'meshid-agent', containerPort: PORTS.agentStatus, protocol: 'TCP' },
      { name: 'meshid-health', containerPort: PORTS.agentHealth, protocol: 'TCP' },
      { name: 'meshid-envoy', containerPort: PORTS.envoyStats, protocol: 'TCP' },
    ],
    readinessProbe: { ...readyCheck, periodSeconds: 2, failureThreshold: 30 },
    resources,
    securityContext: {
      runAsUser: config.proxyUid,
      runAsGroup: config.proxyUid,
      runAsNonRoot: true,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: [
      { name: VOLUME_CERTS, mountPath: MOUNT_CERTS },
      { name: VOLUME_TOKEN, mountPath: MOUNT_TOKEN, readOnly: true },
      { name: VOLUME_CA_ROOT, mountPath: MOUNT_CA_ROOT, readOnly: true },
      { name: VOLUME_PODINFO, mountPath: MOUNT_PODINFO, readOnly: true },
      // Inside meshid-certs' mount: the app containers get this folder alone, never the key beside it.
      { name: VOLUME_WORKLOAD, mountPath: MOUNT_WORKLOAD },
    ],
  };
  if (o.nativeSidecar) {
    proxy.restartPolicy = 'Always';
    // The kubelet starts the next container only once this probe passes: identity before app.
    if (o.holdApplicationUntilProxyStarts) proxy.startupProbe = { ...readyCheck, periodSeconds: 1, failureThreshold: 600 };
  } else if (o.holdApplicationUntilProxyStarts) {
    // The kubelet starts containers in order but waits for each postStart hook; the proxy image has node.
    proxy.lifecycle = { postStart: { exec: { command: ['node', '-e', waitScript()] } } };
  }
  return proxy;
}

function waitScript(): string {
  return [
    `const h=require('node:http'),end=Date.now()+120000;`,
    `function poll(){h.get('http://127.0.0.1:${PORTS.agentHealth}${READY_PATH}',r=>{r.resume();r.statusCode===200?process.exit(0):again()}).on('error',again)}`,
    `function again(){if(Date.now()>end)process.exit(1);setTimeout(poll,500)}`,
    `poll()`,
  ].join('');
}

function renderVolumes(config: InjectorConfig): Volume[] {
  return [
    { name: VOLUME_CERTS, emptyDir: { medium: 'Memory' } },
    {
      name: VOLUME_TOKEN,
      projected: {
        sources: [{ serviceAccountToken: { audience: TOKEN_AUDIENCE, expirationSeconds: config.tokenExpirationSeconds, path: TOKEN_FILE } }],
      },
    },
    { name: VOLUME_CA_ROOT, configMap: { name: TRUST_BUNDLE_CONFIGMAP } },
    {
      name: VOLUME_PODINFO,
      downwardAPI: {
        items: [
          { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
          { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } },
        ],
      },
    },
    // Holds only the Workload API socket, shared with the app containers.
    { name: VOLUME_WORKLOAD, emptyDir: {} },
  ];
}
