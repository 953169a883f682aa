import { randomBytes } from 'node:crypto';
import { FileCaStore } from '../ca/file-store.js';
import { loadCaMaterial } from '../ca/material.js';
import { rotateRoot } from '../ca/rotation/operator.js';
import { awaitsPublication, caStatusRows, formatRotationStatus, formatTable, rotationStatus, type PublicationProgress } from '../ca/status.js';
import { PLUGIN_FILES, type CaStore } from '../ca/store.js';
import { canonicalBundle } from '../ca/trust-bundle.js';
import { formatPodCertificateCensus, podCertificateCensus } from '../ca/podcert/census.js';
import { POD_CERTIFICATE } from '../common/pod-contract.js';
import { validateNamespace } from '../pki/spiffe.js';
import { parseFlags, UsageError, type Io } from './run.js';

const USAGE = `usage: meshid ca status [--data-dir DIR | --cluster [--kubeconfig FILE] [--namespace NS]]
       meshid ca rotate-root [--wait] [--data-dir DIR | --cluster [--kubeconfig FILE] [--namespace NS]]
  status: the trusted roots, the signing CA, the rotation phase and expiries; with --cluster also how many
  PodCertificateRequests for meshid.io/svid are issued, denied, failed and pending, and the oldest pending.
  rotate-root: start a staged root rotation (or report the one in progress); --wait follows it to the end.
  Local mode (default) works on the data directory of "meshid serve --local" (default ./.meshid).
  --cluster works through the Kubernetes API on Secret meshid-ca (or the operator's cacerts) in the control
  plane namespace: --namespace, else $POD_NAMESPACE, else meshid-system; --kubeconfig, else in-cluster
  config, $KUBECONFIG or ~/.kube/config. There --wait also shows how many namespaces hold the new bundle.`;

const STORE_OPTIONS = {
  'data-dir': { type: 'string' }, cluster: { type: 'boolean' }, kubeconfig: { type: 'string' }, namespace: { type: 'string' },
} as const;

export async function caCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'status') return statusCommand(rest, io);
  if (sub === 'rotate-root') return rotateRootCommand(rest, io);
  if (!sub || sub === '--help' || sub === '-h') {
    io.stdout(`${USAGE}\n`);
    return sub ? 0 : 2;
  }
  throw new UsageError(`unknown subcommand "${sub.slice(0, 40)}"\n${USAGE}`);
}

async function statusCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, STORE_OPTIONS, USAGE);
  if (values.help) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  const { store, publication, podCertificates } = await openStore(values);
  const stored = await store.read();
  if (!stored) {
    const start = values.cluster ? 'deploy the control plane (meshid serve) in the cluster' : `start "meshid serve --local --data-dir ${store.describe()}"`;
    throw new Error(`no CA material in ${store.describe()}; ${start} first`);
  }
  const material = loadCaMaterial(stored.files, Date.now());
  io.stdout(formatTable(caStatusRows(material, Date.now()).map((r) => ({ ...r }))));
  const rotation = rotationStatus(stored.files);
  const reached = publication && awaitsPublication(rotation) ? await publication(stored.files[PLUGIN_FILES.roots] ?? '') : undefined;
  io.stdout(`${formatRotationStatus(rotation, Date.now(), reached)}\n`);
  if (podCertificates) io.stdout(`${await podCertificates()}\n`);
  return 0;
}

/** Works on the store a running `meshid serve` watches, which drives the rotation; this only requests and follows it. */
async function rotateRootCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, { wait: { type: 'boolean' }, ...STORE_OPTIONS }, USAGE);
  if (values.help) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  const { store, publication } = await openStore(values);
  await rotateRoot({ store, wait: values.wait ?? false, now: Date.now, random: randomBytes, print: (line) => io.stdout(`${line}\n`), publication });
  return 0;
}

interface StoreChoice {
  store: CaStore;
  publication?: (bundle: string) => Promise<PublicationProgress | undefined>;
  /** Cluster mode: the signer's PodCertificateRequests, as one line. */
  podCertificates?: () => Promise<string>;
}

async function openStore(v: { 'data-dir'?: string; cluster?: boolean; kubeconfig?: string; namespace?: string }): Promise<StoreChoice> {
  if (!v.cluster) {
    const clusterOnly = (['kubeconfig', 'namespace'] as const).filter((k) => v[k] !== undefined);
    if (clusterOnly.length) throw new UsageError(`${clusterOnly.map((k) => `--${k}`).join(' and ')} need --cluster (without it the CA is in --data-dir)`);
    return { store: new FileCaStore(v['data-dir'] ?? './.meshid') };
  }
  if (v['data-dir'] !== undefined) throw new UsageError('--data-dir and --cluster exclude each other: the CA is either in a folder or in the cluster');
  // Loaded only here: the Kubernetes client takes about half a second to load, which local mode need not pay.
  const [{ controlPlaneNamespace, createKubeClients, loadKubeConfig }, { SecretCaStore }, { bundleCoverage }, { podCertificateRequests }] = await Promise.all([
    import('../kube/client.js'), import('../kube/secret-store.js'), import('../kube/bundle-census.js'), import('../kube/podcert-census.js'),
  ]);
  let namespace = v.namespace ?? controlPlaneNamespace();
  try {
    namespace = validateNamespace(namespace);
  } catch (err) {
    throw new UsageError(`--namespace: ${(err as Error).message}`);
  }
  const k = createKubeClients(loadKubeConfig({ kubeconfig: v.kubeconfig }));
  return {
    store: new SecretCaStore({ core: k.core, watch: k.watch, namespace }),
    // Counted from the API rather than asked of the leader: the CLI needs no route to the control plane, and it
    // sees what agents see. Progress is a nicety: if it cannot be read, the rotation is followed without it.
    publication: async (bundle) => {
      const canonical = canonicalBundle(bundle);
      if (canonical === null) return undefined;
      return bundleCoverage(k.core, canonical).catch(() => undefined);
    },
    podCertificates: async () => {
      const items = await podCertificateRequests(k.config, POD_CERTIFICATE.signer);
      return formatPodCertificateCensus(POD_CERTIFICATE.signer, items && podCertificateCensus(items, POD_CERTIFICATE.signer), Date.now());
    },
  };
}
