import { describeView } from '../mesh/describe-text.js';
import { applyViewUpdate } from '../mesh/view.js';
import { validateNamespace, validateTrustDomain } from '../pki/spiffe.js';
import { DESCRIBE_SUBCOMMANDS, DESCRIBE_USAGE as USAGE } from './describe-flags.js';
import { parseTable, UsageError } from './flags.js';
import type { Io } from './run.js';


export async function describeCommand(argv: string[], io: Io): Promise<number> {
  const [kind, target, ...rest] = argv;
  if (!kind || kind === '--help' || kind === '-h') {
    io.stdout(`${USAGE}\n`);
    return kind ? 0 : 2;
  }
  if (kind !== 'pod') throw new UsageError(`can describe only "pod", not "${kind.slice(0, 40)}" (see meshid describe --help)`);
  const m = /^([^/]+)\/([^/]+)$/.exec(target ?? '');
  if (!m) throw new UsageError('pod: name the pod as NAMESPACE/NAME, e.g. default/details-v1-5d8f9');
  const values = parseTable(rest, DESCRIBE_SUBCOMMANDS.pod.flags, 'describe pod');
  if (values.help) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  let podNs: string, root: string | undefined, trustDomain: string;
  try {
    podNs = validateNamespace(m[1]!);
    root = values.namespace === undefined ? undefined : validateNamespace(values.namespace);
    trustDomain = validateTrustDomain(values['trust-domain'] ?? 'cluster.local');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  // Loaded only here: the Kubernetes client takes about half a second to load.
  const [{ controlPlaneNamespace, createKubeClients, loadKubeConfig }, { meshResources }, { MeshState }, { apiStatus, describeApiError }, { silentLogger }] = await Promise.all([
    import('../kube/client.js'), import('../kube/mesh-watch.js'), import('../mesh/state.js'), import('../kube/api-errors.js'), import('../common/log.js'),
  ]);
  const clients = createKubeClients(loadKubeConfig({ kubeconfig: values.kubeconfig }));
  const state = new MeshState({ trustDomain, rootNamespace: root ?? controlPlaneNamespace(), epoch: 'describe' });
  const ignored: string[] = [];
  const log = Object.assign(Object.create(silentLogger), { warn: (_f: unknown, msg: string) => ignored.push(msg) });
  for (const r of meshResources(clients, state, log)) {
    let items: Array<Record<string, unknown>>;
    try {
      ({ items } = await r.list());
    } catch (err) {
      if (!(r.optional && apiStatus(err) === 404)) throw new Error(`cannot list ${r.what}: ${describeApiError(err)}`);
      ignored.push(`the API has no ${r.what} (is its CustomResourceDefinition installed?)`);
      continue;
    }
    for (const item of items) r.onUpsert(item);
  }
  const update = state.update(podNs, m[2]!, undefined);
  if (!update) throw new Error(`no pod ${podNs}/${m[2]} that is running or starting in the cluster`);
  io.stdout(describeView(applyViewUpdate(null, update)));
  for (const line of ignored) io.stderr(`warning: ${line}\n`);
  return 0;
}
