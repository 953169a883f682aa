import { meshidVersion } from '../common/version.js';
import { flagHelp, parseTable, UsageError } from './flags.js';
import type { Io } from './run.js';
import { VERSION_FLAGS } from './version-flags.js';
import { outputFormat, render } from './output.js';

const USAGE = `usage: meshid version [--cluster [--kubeconfig FILE] [--namespace NS]] [-o text|json|yaml]

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
  const format = outputFormat(v.output);
  if (!v.cluster && (v.kubeconfig !== undefined || v.namespace !== undefined)) throw new UsageError('--kubeconfig and --namespace need --cluster');
  const report: VersionReport = { cli: meshidVersion(), node: process.versions.node };
  if (v.cluster) {
    const { controlPlaneVersion } = await import('../kube/control-plane-version.js');
    report.controlPlane = await controlPlaneVersion({ kubeconfig: v.kubeconfig, namespace: v.namespace });
  }
  io.stdout(render(report, format, () => formatVersion(report)));
  return 0;
}

export function formatVersion(r: VersionReport): string {
  const lines = [`meshid ${r.cli}`, `node ${r.node}`];
  const cp = r.controlPlane;
  if (cp) lines.push(`control plane ${cp.version} (${cp.image}, deployment ${cp.namespace}/${cp.deployment}, ${cp.readyReplicas}/${cp.replicas} ready)`);
  return `${lines.join('\n')}\n`;
}
