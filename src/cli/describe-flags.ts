import { flagHelp, type FlagTable } from './flags.js';

export const DESCRIBE_SUBCOMMANDS = {
  pod: {
    summary: 'what that pod\'s sidecar is told (cluster): mTLS per port, who may call it, meshed destinations',
    flags: {
      kubeconfig: { type: 'string', arg: 'FILE', path: true, help: 'the cluster to use (default: in-cluster config, else $KUBECONFIG or ~/.kube/config)' },
      namespace: { type: 'string', arg: 'NS', help: 'the control plane\'s namespace, where mesh-wide policies live (default $POD_NAMESPACE, else meshid-system)' },
      'trust-domain': { type: 'string', arg: 'TD', help: 'the SPIFFE trust domain (default cluster.local)' },
    },
  },
} as const satisfies Record<string, { summary: string; flags: FlagTable }>;

export const DESCRIBE_USAGE = `usage: meshid describe pod NAMESPACE/NAME [flags]

What the pod's sidecar is told, computed from the cluster as the control plane computes it: the mTLS mode of
each port, the PeerAuthentications and AuthorizationPolicies that apply, and the destinations that get mTLS
with the identities accepted there. Works through the Kubernetes API.

${flagHelp(DESCRIBE_SUBCOMMANDS.pod.flags)}`;
