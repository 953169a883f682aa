import { randomBytes } from 'node:crypto';
import { FileCaStore } from '../ca/file-store.js';
import { loadCaMaterial } from '../ca/material.js';
import { rotateRoot } from '../ca/rotation/operator.js';
import { awaitsPublication, caStatusRows, formatRotationStatus, formatTable, rotationStatus, type PublicationProgress } from '../ca/status.js';
import { caStatusReport } from '../ca/status-report.js';
import { PLUGIN_FILES, type CaStore } from '../ca/store.js';
import { checkDataDir } from '../common/data-dir.js';
import { SERVE_DEFAULTS } from '../controlplane/config.js';
import { formatPodCertificateCensus, podCertificateCensus } from '../ca/podcert/census.js';
import { canonicalBundle } from '../ca/trust-bundle.js';
import { POD_CERTIFICATE } from '../common/pod-contract.js';
import { validateNamespace } from '../pki/spiffe.js';
import { CA_SUBCOMMANDS, CA_USAGE, caSubcommandUsage } from './ca-flags.js';
import { closest } from './did-you-mean.js';
import { parseTable, UsageError } from './flags.js';
import { outputFormat, render } from './output.js';
import type { Io } from './run.js';

export async function caCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'status') return statusCommand(rest, io);
  if (sub === 'rotate-root') return rotateRootCommand(rest, io);
  if (!sub || sub === '--help' || sub === '-h') {
    (sub ? io.stdout : io.stderr)(`${CA_USAGE}\n`);
    return sub ? 0 : 2;
  }
  const near = closest(sub, Object.keys(CA_SUBCOMMANDS));
  throw new UsageError(`unknown subcommand "${sub.slice(0, 40)}"${near ? `; did you mean ${near}?` : ''} (see meshid ca --help)`);
}

async function statusCommand(argv: string[], io: Io): Promise<number> {
  const values = parseTable(argv, CA_SUBCOMMANDS.status.flags, 'ca status');
  if (values.help) {
    io.stdout(`${caSubcommandUsage('status')}\n`);
    return 0;
  }
  const format = outputFormat(values.output);
  const { store, publication, podCertificates } = await openStore(values);
  const stored = await store.read();
  if (!stored) {
    const start = values.cluster ? 'deploy the control plane (meshid serve) in the cluster' : `start "meshid serve --local --data-dir ${store.describe()}"`;
    throw new Error(`no CA material in ${store.describe()}; ${start} first`);
  }
  const now = Date.now();
  const material = loadCaMaterial(stored.files, now);
  const rotation = rotationStatus(stored.files);
  const reached = publication && awaitsPublication(rotation) ? await publication(stored.files[PLUGIN_FILES.roots] ?? '') : undefined;
  io.stdout(render(caStatusReport(store.describe(), material, rotation, now, reached), format,
    () => `${formatTable(caStatusRows(material, now).map((r) => ({ ...r })))}${formatRotationStatus(rotation, now, reached)}\n`));
  if (podCertificates && format === 'text') io.stdout(`${await podCertificates()}\n`);
  return 0;
}

/** Works on the store a running `meshid serve` watches, which drives the rotation; this only requests and follows it. */
async function rotateRootCommand(argv: string[], io: Io): Promise<number> {
  const values = parseTable(argv, CA_SUBCOMMANDS['rotate-root'].flags, 'ca rotate-root');
  if (values.help) {
    io.stdout(`${caSubcommandUsage('rotate-root')}\n`);
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
    const dataDir = v['data-dir'] ?? SERVE_DEFAULTS['data-dir'];
    await checkDataDir(dataDir);
    return { store: new FileCaStore(dataDir) };
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
