import type { FlagTable } from './flags.js';
import { OUTPUT_FLAG } from './output.js';

export const VERSION_FLAGS = {
  cluster: { type: 'boolean', help: 'also the control plane\'s: the image of Deployment meshid and its ready replicas' },
  kubeconfig: { type: 'string', arg: 'FILE', path: true, help: 'with --cluster: the cluster (default: in-cluster config, $KUBECONFIG or ~/.kube/config)' },
  namespace: { type: 'string', arg: 'NS', help: 'with --cluster: the control plane namespace (default $POD_NAMESPACE, else meshid-system)' },
  ...OUTPUT_FLAG,
} as const satisfies FlagTable;
