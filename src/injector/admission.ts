import { isMeshidError } from '../common/errors.js';
import type { InjectorConfig } from './config.js';
import { injectPod } from './inject.js';
import { checkReview } from './review-schema.js';
import { diffPatch, patchJson } from './patch.js';
import type { SkipReason } from './policy.js';
import { isObject } from './types.js';

/** The fields of an `admission.k8s.io/v1` AdmissionRequest the injector reads. */
export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  subResource?: string;
  namespace?: string;
  operation?: string;
  object?: unknown;
  dryRun?: boolean;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  patch?: string;
  status?: { code: number; message: string };
}

export type Outcome =
  | { kind: 'injected'; dryRun: boolean; patchBytes: number }
  | { kind: 'skipped'; reason: SkipReason | 'not_a_pod' | 'not_create' | 'unchanged' }
  | { kind: 'denied'; reason: string; message: string };

/** Refuses anything that is not a v1 AdmissionReview with a request uid: there is nothing to answer. */
export function parseReview(body: unknown): AdmissionRequest {
  checkReview(body);
  const req = (body as { request: Record<string, unknown> }).request;
  const k = req.kind as { group?: string; version: string; kind: string };
  const opt = (field: string) => (typeof req[field] === 'string' ? (req[field] as string) : undefined);
  return {
    uid: req.uid as string,
    kind: { group: k.group ?? '', version: k.version, kind: k.kind },
    subResource: opt('subResource'),
    namespace: opt('namespace'),
    operation: opt('operation'),
    object: req.object,
    dryRun: req.dryRun === true,
  };
}

// Reused for every patch: a fresh Buffer per review was a tenth of the time to build the patch.
const scratch = Buffer.allocUnsafe(256 * 1024);

/** UTF-8, then base64; through the scratch buffer when the text surely fits (3 bytes per UTF-16 unit). */
function base64(text: string): string {
  if (text.length * 3 > scratch.length) return Buffer.from(text).toString('base64');
  return scratch.toString('base64', 0, scratch.write(text, 'utf8'));
}

/** The decision for one request. Only injection failures deny; anything not ours is admitted as is. */
export function admit(req: AdmissionRequest, config: InjectorConfig): { response: AdmissionResponse; outcome: Outcome } {
  const allow = (reason: Extract<Outcome, { kind: 'skipped' }>['reason']) => ({
    response: { uid: req.uid, allowed: true },
    outcome: { kind: 'skipped', reason } as Outcome,
  });
  if (req.kind.group !== '' || req.kind.kind !== 'Pod' || req.subResource) return allow('not_a_pod');
  if (req.operation !== undefined && req.operation !== 'CREATE') return allow('not_create');
  try {
    const meta = isObject(req.object) && isObject(req.object.metadata) ? req.object.metadata : {};
    const namespace = req.namespace || (typeof meta.namespace === 'string' ? meta.namespace : '') || 'default';
    const { decision, pod } = injectPod(req.object, namespace, config);
    if (!decision.inject) return allow(decision.reason);
    const ops = diffPatch(req.object as object, pod);
    if (ops.length === 0) return allow('unchanged');
    const patch = base64(patchJson(ops));
    return {
      response: { uid: req.uid, allowed: true, patchType: 'JSONPatch', patch },
      outcome: { kind: 'injected', dryRun: req.dryRun === true, patchBytes: patch.length },
    };
  } catch (err) {
    if (!isMeshidError(err)) throw err;
    return {
      response: { uid: req.uid, allowed: false, status: { code: 400, message: `meshid injection: ${err.message}` } },
      outcome: { kind: 'denied', reason: err.code, message: err.message },
    };
  }
}

export function reviewOf(response: AdmissionResponse): object {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

/**
 * `JSON.stringify(reviewOf(response))`, except that the patch is copied in as it is: it is base64,
 * which never needs escaping, and scanning its few kilobytes for characters to escape cost as much
 * as serializing the patch itself.
 */
export function reviewJson(response: AdmissionResponse): string {
  let out = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":${JSON.stringify(response.uid)},"allowed":${response.allowed}`;
  if (response.patchType !== undefined) out += `,"patchType":${JSON.stringify(response.patchType)}`;
  if (response.patch !== undefined) out += `,"patch":"${response.patch}"`;
  if (response.status !== undefined) out += `,"status":${JSON.stringify(response.status)}`;
  return `${out}}}`;
}
