import { parseAllDocuments } from 'yaml';
import { MeshidError } from '../common/errors.js';
import { isPolicyKind } from './api.js';
import { isRecord } from './shape.js';
import { validatePolicyObject } from './validate.js';

/** Larger input is refused unread: a policy file is kilobytes, and YAML parses at about 3 ms of CPU per KiB here. */
export const MAX_POLICY_YAML_BYTES = 1024 * 1024;
const MAX_DOCUMENTS = 10_000;
/** Aliases expanded per document: enough for hand-written anchors, far too few for a "billion laughs". */
const MAX_ALIASES = 100;

export interface CheckReport {
  /** `ok  Kind ns/name`, `ignored  Kind ns/name (...)`, or one line per problem naming the document and field. */
  lines: string[];
  problems: number;
}

/** `meshid policy check`: every PeerAuthentication and AuthorizationPolicy of a multi-document YAML text. */
export function checkPolicyYaml(text: string): CheckReport {
  if (Buffer.byteLength(text) > MAX_POLICY_YAML_BYTES) throw invalid(`input is larger than ${MAX_POLICY_YAML_BYTES} bytes`);
  let docs: ReturnType<typeof parseAllDocuments>;
  try {
    docs = parseAllDocuments(text, { prettyErrors: false, uniqueKeys: true });
  } catch (err) {
    // The parser recurses per nesting level; a hostile file can exhaust the stack.
    throw invalid(`not YAML that can be read: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!Array.isArray(docs)) docs = [];
  if (docs.length > MAX_DOCUMENTS) throw invalid(`more than ${MAX_DOCUMENTS} documents`);
  const report: CheckReport = { lines: [], problems: 0 };
  const problem = (line: string) => {
    report.lines.push(line);
    report.problems++;
  };
  docs.forEach((doc, i) => {
    const where = `document ${i + 1}`;
    if (doc.errors[0]) return problem(`${where}: not YAML: ${doc.errors[0].message.split('\n')[0]}`);
    let obj: unknown;
    try {
      obj = doc.toJS({ maxAliasCount: MAX_ALIASES });
    } catch (err) {
      return problem(`${where}: ${(err as Error).message.split('\n')[0]}`);
    }
    if (obj === null || obj === undefined) return;
    const items = isRecord(obj) && obj.kind === 'List' && Array.isArray(obj.items) ? obj.items.map((item, j) => [`${where} item ${j + 1}`, item] as const) : [[where, obj] as const];
    for (const [at, item] of items) checkObject(at, item, report, problem);
  });
  if (report.lines.length === 0) problem('no objects found');
  return report;
}

function checkObject(at: string, obj: unknown, report: CheckReport, problem: (line: string) => void): void {
  if (isRecord(obj) && !isPolicyKind(obj.kind)) {
    const kind = typeof obj.kind === 'string' ? obj.kind.slice(0, 60) : 'object without a kind';
    report.lines.push(`ignored  ${kind} (${at}: not a PeerAuthentication or AuthorizationPolicy)`);
    return;
  }
  const r = validatePolicyObject(obj, { defaultNamespace: 'default' });
  if (r.ok) report.lines.push(`ok  ${r.where}`);
  else for (const e of r.errors) problem(`${at} (${r.where}): ${e}`);
}

function invalid(message: string): MeshidError {
  return new MeshidError('invalid_yaml', message);
}
