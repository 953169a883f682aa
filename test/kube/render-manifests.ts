import { execFileSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';

export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [k: string]: unknown }; [k: string]: unknown };

/**
 * The install as a cluster receives it: rendered by the real `kubectl kustomize`, since the install relies on
 * kustomize's transformers (the images fieldSpecs). Missing kubectl fails the test rather than passing it.
 */
export function renderKustomization(dir: string): Manifest[] {
  let out: string;
  try {
    out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('kubectl is not on PATH: the manifests tests need it (Debian: apt-get install kubernetes-client; .ci/run installs it)');
    throw new Error(`kubectl kustomize ${dir} failed: ${String(e.stderr ?? e.message).trim().split('\n')[0]}`);
  }
  return parseAllDocuments(out).map((doc, i) => {
    if (doc.errors.length) throw new Error(`kubectl kustomize ${dir} document ${i + 1}: ${doc.errors[0]!.message}`);
    return doc.toJS() as Manifest;
  });
}
