import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { DEFAULT_MESHID_IMAGE } from '../../src/common/image.js';
import { isRefusal, createPod, webhookManifest } from '../helpers/cluster-admission.js';
import { meshid, type CliResult } from '../helpers/cli.js';
import { startFakeCluster, webhookCaBundles, type FakeCluster } from '../helpers/fake-cluster.js';
import type { FakeKube } from '../helpers/fake-kube.js';
import { waitFor } from '../helpers/wait.js';
import { startControlPlaneProcess, type ControlPlaneProcess } from './control-plane-pod.js';
import { ImageRegistry } from './images.js';
import { PodRun } from './kubelet.js';
import { PodNetwork, type NetHost } from './network.js';
import { podCertificateIssuer } from './pod-certificates.js';
import { STATE_FILE } from './programs/standin/state-file.js';
import { spawnInNamespace } from './test-host.js';

type Pod = Record<string, any>;

export const APP_IMAGE = 'meshid-test/app:1';
const WEBHOOK_PORT = 15017;

export interface Harness {
  cluster: FakeCluster;
  fake: FakeKube;
  network: PodNetwork;
  images: ImageRegistry;
  controlPlane: ControlPlaneProcess;
  /** Creates the pod through the API server, as a user or a controller does: admission runs on the way. */
  createPod(namespace: string, pod: Pod): Promise<{ pod: Pod } | { code: number; message: string }>;
  /** The kubelet's part: starts a pod the API server stored; wait on the returned run for what you need. */
  run(pod: Pod, o?: { ipv6?: boolean }): Promise<PodRun>;
  /** Stops the control plane (if running) and starts it again in its pod, on the same address. */
  restartControlPlane(): Promise<void>;
  /** `meshid ARGS --cluster --kubeconfig …`: the operator's CLI against this cluster. */
  meshid(args: string[]): Promise<CliResult>;
}

/**
 * A node and a cluster on this machine: the fake API server (reachable from pods at the gateway address),
 * `meshid serve` in its own pod network namespace with the install's real webhook configuration (whose caBundle
 * it writes), cluster DNS for its Service as /etc/hosts entries, and a kubelet that runs pods as their spec
 * says. Everything is torn down after the test.
 */
export async function startHarness(t: TestContext, o: { serveArgs?: string[] } = {}): Promise<Harness> {
  const runs: PodRun[] = [];
  let controlPlane: ControlPlaneProcess | undefined;
  // Hooks run in the order they are added: pods, then the control plane, then the API server, then the network.
  t.after(async () => {
    for (const r of runs.reverse()) await r.stop();
    await controlPlane?.stop();
  });
  const network = await PodNetwork.create();
  const cluster = await startFakeCluster(t, { host: network.gateway4, webhookConfiguration: false });
  t.after(() => network.close());
  const { fake } = cluster;
  const cpHost = await network.addHost();
  await installWebhook(fake, cpHost);
  controlPlane = await startControlPlaneProcess(fake, cpHost, o.serveArgs);
  await waitFor(() => webhookCaBundles(fake).every(Boolean), { timeoutMs: 10_000, what: `the control plane to write the webhook caBundle:\n${controlPlane!.logs()}` });
  const images = new ImageRegistry();
  images.tag(DEFAULT_MESHID_IMAGE, images.meshid);
  images.tag(APP_IMAGE, images.app);
  const dns = { 'meshid.meshid-system.svc': cpHost.ipv4, 'meshid.meshid-system.svc.cluster.local': cpHost.ipv4 };
  const kubeconfig = await cluster.kubeconfigFile();
  const harness: Harness = {
    cluster, fake, network, images,
    get controlPlane() {
      return controlPlane!;
    },
    async createPod(namespace, pod) {
      const r = await createPod(fake, namespace, pod);
      return isRefusal(r) ? r : { pod: r as Pod };
    },
    async run(pod, ro) {
      const r = new PodRun(structuredClone(pod), {
        images, network, hosts: dns, nodeName: 'node-1',
        sources: {
          configMap: (ns, name) => fake.get('configmaps', ns, name)?.data as Record<string, string> | undefined,
          token: (req) => cluster.token(req),
          podCertificate: podCertificateIssuer(fake.kubeConfig()),
        },
        reportStatus: (p) => fake.put('pods', p as never),
      });
      runs.push(r);
      r.begin(ro);
      return r;
    },
    async restartControlPlane() {
      await controlPlane!.stop();
      controlPlane = await startControlPlaneProcess(fake, cpHost, o.serveArgs);
    },
    meshid: (args) => meshid([...args, '--kubeconfig', kubeconfig]),
  };
  return harness;
}

/** The install's webhook configuration, its Service reached at the control plane pod's webhook port. */
async function installWebhook(fake: FakeKube, cp: NetHost): Promise<void> {
  fake.resolveService = (namespace, name) => (namespace === 'meshid-system' && name === 'meshid' ? { host: cp.ipv4, port: WEBHOOK_PORT } : undefined);
  fake.put('mutatingwebhookconfigurations', (await webhookManifest()) as never);
}

/** `kubectl label namespace NS meshid.io/inject=enabled`. */
export function labelNamespace(fake: FakeKube, namespace: string): void {
  const ns = fake.get('namespaces', undefined, namespace) ?? { metadata: { name: namespace } };
  fake.put('namespaces', { ...ns, metadata: { ...ns.metadata, labels: { ...(ns.metadata.labels as object), 'meshid.io/inject': 'enabled' } } });
}

/** What the Envoy stand-in in a pod's proxy holds, from the file it keeps beside its bootstrap. */
export function standinState(run: PodRun): Record<string, any> {
  return JSON.parse(readFileSync(join(run.volumePath('meshid-certs'), STATE_FILE), 'utf8'));
}

/** Another host on the pod network (not a pod): the test app in a namespace of its own. */
export async function startTestHost(t: TestContext, h: Harness, args: string[]): Promise<NetHost> {
  const host = await h.network.addHost();
  const child = await spawnInNamespace(host.ns, h.images.app, ['test-app', ...args]);
  t.after(() => child.kill('SIGKILL'));
  return host;
}
