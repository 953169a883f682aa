import { execFileSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';

export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [k: string]: unknown }; [k: string]: unknown };

const NEED = 'kubectl 1.21 or later (kustomize v4+: directories as resources, images fieldSpecs); Debian bookworm\'s kubernetes-client is 1.20 (kustomize v2.0.3) and cannot render the install';

function kubectl(args: string[]): string {
  try {
    return execFileSync('kubectl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error(`kubectl is not on PATH: the manifests tests need ${NEED}`);
    throw new Error(`kubectl ${args.join(' ')} failed: ${String(e.stderr ?? e.message).trim().split('\n')[0]}`);
  }
}

let checked = false;
function requireModernKustomize(): void {
  if (checked) return;
  const version = /Kustomize Version: v(\d+)\./.exec(kubectl(['version', '--client']));
  if (!version || Number(version[1]) < 4) throw new Error(`this kubectl embeds kustomize ${version ? `v${version[1]}` : 'older than v4'}: the manifests tests need ${NEED}`);
  checked = true;
}

/**
 * The install as a cluster receives it: rendered by the real `kubectl kustomize`, since the install relies on
 * kustomize's transformers (the images fieldSpecs). Missing kubectl fails the test rather than passing it.
 */
export function renderKustomization(dir: string): Manifest[] {
  requireModernKustomize();
  const out = kubectl(['kustomize', dir]);
  return parseAllDocuments(out).map((doc, i) => {
    if (doc.errors.length) throw new Error(`kubectl kustomize ${dir} document ${i + 1}: ${doc.errors[0]!.message}`);
    return doc.toJS() as Manifest;
  });
}
