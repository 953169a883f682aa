import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [k: string]: unknown }; [k: string]: unknown };

const SUPPORTED = new Set(['apiVersion', 'kind', 'resources']);

/**
 * What `kustomize build` does for a kustomization that only lists resources (files and directories with
 * their own kustomization.yaml). Anything else is refused loudly rather than rendered wrongly.
 */
export function renderKustomization(dir: string): Manifest[] {
  const file = join(dir, 'kustomization.yaml');
  if (!existsSync(file)) throw new Error(`${dir} has no kustomization.yaml`);
  const k = parseOne(file) as { resources?: unknown };
  for (const key of Object.keys(k)) {
    if (!SUPPORTED.has(key)) throw new Error(`${file}: field "${key}" is not supported by the test renderer; extend test/kube/render-manifests.ts`);
  }
  if (!Array.isArray(k.resources)) throw new Error(`${file}: resources must be a list`);
  return k.resources.flatMap((entry: unknown) => {
    const path = join(dir, String(entry));
    if (!existsSync(path)) throw new Error(`${file}: resource ${String(entry)} does not exist`);
    return statSync(path).isDirectory() ? renderKustomization(path) : parseManifests(path);
  });
}

export function parseManifests(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((doc, i) => {
    if (doc.errors.length) throw new Error(`${file} document ${i + 1}: ${doc.errors[0]!.message}`);
    const obj = doc.toJS() as Manifest | null;
    if (!obj?.apiVersion || !obj.kind || !obj.metadata?.name) throw new Error(`${file} document ${i + 1}: needs apiVersion, kind and metadata.name`);
    return obj;
  }).filter(Boolean);
}

function parseOne(file: string): Record<string, unknown> {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  if (docs.length !== 1 || docs[0]!.errors.length) throw new Error(`${file}: expected one valid YAML document`);
  return docs[0]!.toJS() as Record<string, unknown>;
}
