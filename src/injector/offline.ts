import { isCollection, isMap, isScalar, isSeq, parseAllDocuments, type Document } from 'yaml';
import { MeshidError } from '../common/errors.js';
import type { InjectorConfig } from './config.js';
import { injectPod } from './inject.js';
import { diffPatch, type Operation } from './patch.js';
import { isObject } from './types.js';

/** Where each workload kind keeps its pod template; a Pod is its own template. */
const TEMPLATE_PATHS: Record<string, string[]> = {
  Pod: [],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

export const MAX_YAML_BYTES = 32 * 1024 * 1024;
const MAX_DOCUMENTS = 10_000;

export interface OfflineResult {
  yaml: string;
  injected: number;
  skipped: Array<{ where: string; reason: string }>;
}

/**
 * `meshid inject`: multi-document YAML in, YAML out. Changes are applied to the parsed documents
 * as the same JSON Patch the webhook would send, so comments, key order and quoting survive even
 * in the documents that change; other kinds pass through as written.
 */
export function injectYaml(text: string, config: InjectorConfig): OfflineResult {
  if (Buffer.byteLength(text) > MAX_YAML_BYTES) throw invalid(`input is larger than ${MAX_YAML_BYTES} bytes`);
  const docs = parseAllDocuments(text, { prettyErrors: false, uniqueKeys: true });
  if (!Array.isArray(docs)) return { yaml: text, injected: 0, skipped: [] };
  if (docs.length > MAX_DOCUMENTS) throw invalid(`more than ${MAX_DOCUMENTS} documents`);
  const result: OfflineResult = { yaml: '', injected: 0, skipped: [] };
  const out = docs.map((doc, i) => {
    // Untouched documents are copied from the source, so they come out exactly as they went in.
    const source = text.slice(i === 0 ? 0 : docs[i - 1]!.range[2], i === docs.length - 1 ? text.length : doc.range[2]);
    const where = `document ${i + 1}`;
    const problem = doc.errors[0];
    if (problem) throw invalid(`${where}: ${problem.message.split('\n')[0]}`);
    let obj: unknown;
    try {
      // Bounded alias expansion: a "billion laughs" document is refused, not expanded.
      obj = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      throw invalid(`${where}: ${(err as Error).message.split('\n')[0]}`);
    }
    const before = result.injected;
    injectObject(doc, [], obj, where, config, result);
    if (result.injected === before) return source;
    const rendered = doc.toString({ lineWidth: 0 });
    return i === 0 || rendered.startsWith('---') ? rendered : `---\n${rendered}`;
  });
  result.yaml = out.join('');
  return result;
}

function injectObject(doc: Document, at: string[], obj: unknown, where: string, config: InjectorConfig, result: OfflineResult): void {
  if (!isObject(obj) || typeof obj.kind !== 'string') return;
  const name = isObject(obj.metadata) && typeof obj.metadata.name === 'string' ? ` ${obj.metadata.name}` : '';
  const label = `${where} (${obj.kind}${name})`;
  if (obj.kind === 'List' || obj.kind.endsWith('List')) {
    if (!Array.isArray(obj.items)) return;
    obj.items.forEach((item, i) => injectObject(doc, [...at, 'items', String(i)], item, `${label} item ${i + 1}`, config, result));
    return;
  }
  const templatePath = TEMPLATE_PATHS[obj.kind];
  if (!templatePath) return;
  let template: unknown = obj;
  for (const key of templatePath) template = isObject(template) ? template[key] : undefined;
  if (!isObject(template)) throw invalid(`${label}: ${templatePath.join('.')} is missing`);
  const namespace = isObject(obj.metadata) && typeof obj.metadata.namespace === 'string' ? obj.metadata.namespace : 'default';
  const { decision, pod } = injectPod(template, namespace, config, label);
  if (!decision.inject) {
    result.skipped.push({ where: label, reason: decision.message });
    return;
  }
  applyToDocument(doc, [...at, ...templatePath], diffPatch(template, pod));
  result.injected++;
}

function applyToDocument(doc: Document, prefix: string[], ops: Operation[]): void {
  for (const op of ops) {
    const path = [...prefix, ...op.path.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'))];
    if (op.op === 'remove') {
      doc.deleteIn(path);
    } else if (op.op === 'add' || op.op === 'replace') {
      unflowAlong(doc, path.slice(0, -1));
      const parent = doc.getIn(path.slice(0, -1), true);
      const last = path[path.length - 1]!;
      // The rendered sidecar shares objects (one resources block for both containers, one frozen
      // rendering for every pod); written out they must be plain copies, not YAML anchors and aliases.
      const node = doc.createNode(op.value, { aliasDuplicateObjects: false });
      if (op.op === 'add' && isSeq(parent) && Number(last) < parent.items.length) parent.items.splice(Number(last), 0, node);
      else doc.setIn(path, node);
    }
  }
  metadataFirst(prefix.length ? doc.getIn(prefix, true) : doc.contents);
}

/**
 * A block node inside a flow collection comes out as flow: a sidecar on one line. The collections on the way
 * to a change become block style; the input's other flow collections (`metadata: {name: web}`) stay as written.
 */
function unflowAlong(doc: Document, path: string[]): void {
  for (let i = 0; i <= path.length; i++) {
    const node = i === 0 ? doc.contents : doc.getIn(path.slice(0, i), true);
    if (isCollection(node)) node.flow = false;
  }
}

/** A template that had no metadata gets it where Kubernetes writes it, before its spec. */
function metadataFirst(node: unknown): void {
  if (!isMap(node)) return;
  const index = (key: string) => node.items.findIndex((p) => (isScalar(p.key) ? p.key.value : p.key) === key);
  const [metadata, spec] = [index('metadata'), index('spec')];
  if (metadata > spec && spec >= 0) node.items.splice(spec, 0, ...node.items.splice(metadata, 1));
}

function invalid(message: string): MeshidError {
  return new MeshidError('invalid_yaml', message);
}
