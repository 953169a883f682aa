import { meshidVersion } from '../common/version.js';
import { flagHelp, parseTable, UsageError } from './flags.js';
import type { Io } from './run.js';
import { VERSION_FLAGS } from './version-flags.js';

const USAGE = `usage: meshid version [--cluster [--kubeconfig FILE] [--namespace NS]] [-o text|json]

The CLI's version and the Node.js it runs on; with --cluster also the control plane's, read from the image
of its Deployment (no route to the control plane needed, only "get deployments" in its namespace).

${flagHelp(VERSION_FLAGS)}`;

export interface VersionReport {
  cli: string;
  node: string;
  controlPlane?: { deployment: string; namespace: string; image: string; version: string; readyReplicas: number; replicas: number };
}

export async function versionCommand(argv: string[], io: Io): Promise<number> {
  const v = parseTable(argv, VERSION_FLAGS, 'version');
  if (v.help) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  const output = v.output ?? 'text';
  if (output !== 'text' && output !== 'json') throw new UsageError(`-o "${output.slice(0, 32)}" is not an output format; use text or json`);
  if (!v.cluster && (v.kubeconfig !== undefined || v.namespace !== undefined)) throw new UsageError('--kubeconfig and --namespace need --cluster');
  const report: VersionReport = { cli: meshidVersion(), node: process.versions.node };
  if (v.cluster) {
    const { controlPlaneVersion } = await import('../kube/control-plane-version.js');
    report.controlPlane = await controlPlaneVersion({ kubeconfig: v.kubeconfig, namespace: v.namespace });
  }
  io.stdout(output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatVersion(report));
  return 0;
}

export function formatVersion(r: VersionReport): string {
  const lines = [`meshid ${r.cli}`, `node ${r.node}`];
  const cp = r.controlPlane;
  if (cp) lines.push(`control plane ${cp.version} (${cp.image}, deployment ${cp.namespace}/${cp.deployment}, ${cp.readyReplicas}/${cp.replicas} ready)`);
  return `${lines.join('\n')}\n`;
}
