import type { FlagTable } from './flags.js';

export const VERSION_FLAGS = {
  cluster: { type: 'boolean', help: 'also the control plane\'s: the image of Deployment meshid and its ready replicas' },
  kubeconfig: { type: 'string', arg: 'FILE', path: true, help: 'with --cluster: the cluster (default: in-cluster config, $KUBECONFIG or ~/.kube/config)' },
  namespace: { type: 'string', arg: 'NS', help: 'with --cluster: the control plane namespace (default $POD_NAMESPACE, else meshid-system)' },
  output: { type: 'string', short: 'o', arg: 'FORMAT', choices: ['text', 'json'], help: 'text (default) or json' },
} as const satisfies FlagTable;
