import { flagHelp, type FlagTable } from './flags.js';

export const INJECT_FLAGS = {
  filename: { type: 'string', short: 'f', arg: 'FILE', path: true, help: 'the YAML to inject, - for stdin (required)' },
  output: { type: 'string', short: 'o', arg: 'FILE', path: true, help: 'write the result there instead of stdout' },
} as const satisfies FlagTable;

export const INJECT_USAGE = `usage: meshid inject -f FILE|- [-o FILE]

Adds the meshid-init container and the meshid-proxy sidecar to Pods and to the pod templates of
Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, Jobs, CronJobs and Lists.
Multi-document YAML in, YAML out; other kinds pass through unchanged.

${flagHelp(INJECT_FLAGS)}`;
