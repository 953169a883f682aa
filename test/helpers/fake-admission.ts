/**
 * A pod create as kube-apiserver admits it: namespace checks, the mutating webhook chain (with
 * reinvocation), name generation and schema validation. Storing is the caller's.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import jsonPatch from 'fast-json-patch';
import { Pod } from 'kubernetes-models/v1/Pod';
import { checkPodCertificateSources } from './pod-certificate-schema.js';
import type { KubeObject } from './fake-kube-routes.js';
import { CallError, callWebhook, type ServiceResolver, verifyResponse } from './webhook-call.js';
import { type Hook, type MutatingWebhookConfiguration, orderedHooks, type RequestAttributes, webhookMatches } from './webhook-match.js';

export interface UserInfo {
  username: string;
  uid?: string;
  groups?: string[];
}

/** One webhook call as the fake made it, for tests to assert on (say, that a webhook was never called). */
export interface WebhookCall {
  configuration: string;
  webhook: string;
  /** The AdmissionReview request uid. */
  uid: string;
  namespace: string;
  /** Whether this was the reinvocation of an IfNeeded webhook. */
  reinvocation: boolean;
  /** Undefined when the call failed. */
  allowed?: boolean;
  /** Bytes of the decoded JSON Patch; 0 for none. */
  patchBytes: number;
  /** Why the call failed, as the API server words it. */
  error?: string;
}

/** A refusal as the client receives it in a Status. */
export interface Refusal {
  code: number;
  reason: string;
  message: string;
}

export interface AdmissionDeps {
  configurations: MutatingWebhookConfiguration[];
  /** The Namespace object of the request; undefined when it does not exist. */
  namespace: KubeObject | undefined;
  resolveService: ServiceResolver;
  userInfo: UserInfo;
  record(call: WebhookCall): void;
  /** Whether a pod of that name is stored, so generated names are unique. */
  exists(name: string): boolean;
  fieldManager?: string;
}

type Labels = Record<string, string> | undefined;
type Step = { pod: KubeObject; changed: boolean } | { refused: Refusal };

const POD_CREATE: RequestAttributes = { operation: 'CREATE', group: '', version: 'v1', resource: 'pods', subresource: '', namespaced: true };
// kube's utilrand alphabet: no vowels, so generated names never spell words.
const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

const refuse = (code: number, reason: string, message: string): { refused: Refusal } => ({ refused: { code, reason, message } });
const labelsOf = (obj: KubeObject | undefined): Labels => obj?.metadata.labels as Labels;

export async function admitPodCreate(deps: AdmissionDeps, namespace: string, body: KubeObject): Promise<{ pod: KubeObject } | { refused: Refusal }> {
  const sent = body.metadata?.namespace;
  if (sent && sent !== namespace) return refuse(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
  if (!deps.namespace) return refuse(404, 'NotFound', `namespaces "${namespace}" not found`);
  const admitted = await mutate(deps, namespace, { ...body, metadata: { ...body.metadata, namespace } });
  if ('refused' in admitted) return admitted;
  const pod = admitted.pod;
  if (!pod.metadata.name) {
    const prefix = pod.metadata.generateName as string | undefined;
    if (!prefix) return refuse(422, 'Invalid', 'Pod "" is invalid: metadata.name: Required value: name or generateName is required');
    do pod.metadata.name = prefix + Array.from({ length: 5 }, () => NAME_ALPHABET[randomInt(NAME_ALPHABET.length)]).join('');
    while (deps.exists(pod.metadata.name));
  }
  try {
    new Pod(pod as ConstructorParameters<typeof Pod>[0]).validate();
  } catch (err) {
    return refuse(422, 'Invalid', `Pod "${pod.metadata.name}" is invalid: ${(err as Error).message}`);
  }
  const podCertificate = checkPodCertificateSources(pod as { spec?: Record<string, unknown> });
  if (podCertificate) return refuse(422, 'Invalid', `Pod "${pod.metadata.name}" is invalid: ${podCertificate}`);
  return { pod };
}

/**
 * Every matching webhook in order; then, once, each IfNeeded webhook that a later webhook's change
 * came after (kube-apiserver's reinvocation rule). Selectors are evaluated on the object as it is then.
 */
async function mutate(deps: AdmissionDeps, namespace: string, initial: KubeObject): Promise<Step> {
  const hooks = orderedHooks(deps.configurations);
  let pod = initial;
  let invokedIfNeeded = new Set<number>();
  const reinvoke = new Set<number>();
  for (const reinvocation of [false, true]) {
    for (const [i, hook] of hooks.entries()) {
      if (reinvocation && !reinvoke.has(i)) continue;
      const step = await maybeCall(deps, hook, namespace, pod, reinvocation);
      if ('refused' in step) return step;
      if (step.changed) {
        pod = step.pod;
        if (!reinvocation) {
          for (const earlier of invokedIfNeeded) reinvoke.add(earlier);
          invokedIfNeeded = new Set();
        }
      }
      if (!reinvocation && step.called && hook.webhook.reinvocationPolicy === 'IfNeeded') invokedIfNeeded.add(i);
    }
    if (reinvoke.size === 0) break;
  }
  return { pod, changed: pod !== initial };
}

async function maybeCall(deps: AdmissionDeps, hook: Hook, namespace: string, pod: KubeObject, reinvocation: boolean): Promise<Step & { called?: boolean }> {
  const { webhook } = hook;
  const failed = (reason: string): Step => {
    if (webhook.failurePolicy === 'Ignore') return { pod, changed: false };
    return refuse(500, 'InternalError', `Internal error occurred: failed calling webhook "${webhook.name}": ${reason}`);
  };
  let matches: boolean;
  try {
    matches = webhookMatches(webhook, POD_CREATE, labelsOf(deps.namespace), labelsOf(pod));
  } catch (err) {
    return failed((err as Error).message);
  }
  if (!matches) return { pod, changed: false };
  const uid = randomUUID();
  const call = { configuration: hook.configuration, webhook: webhook.name, uid, namespace, reinvocation };
  let verdict;
  try {
    verdict = verifyResponse(await callWebhook(webhook, deps.resolveService, review(deps, uid, namespace, pod)), uid);
  } catch (err) {
    if (!(err instanceof CallError)) throw err;
    deps.record({ ...call, patchBytes: 0, error: err.message });
    return { ...failed(err.message), called: true };
  }
  deps.record({ ...call, allowed: verdict.allowed, patchBytes: Buffer.byteLength(verdict.patch ?? '') });
  if (!verdict.allowed) return { ...denied(webhook.name, verdict.status), called: true };
  if (verdict.patch === undefined) return { pod, changed: false, called: true };
  // A patch that does not decode or apply is the webhook's bug, not a call failure: failurePolicy does not apply.
  try {
    const patched = jsonPatch.applyPatch(structuredClone(pod), JSON.parse(verdict.patch), true, false).newDocument as KubeObject;
    return { pod: patched, changed: !isDeepStrictEqual(patched, pod), called: true };
  } catch (err) {
    return { ...refuse(500, 'InternalError', `Internal error occurred: ${(err as Error).message.split('\n')[0]}`), called: true };
  }
}

/** kube-apiserver's ToStatusErr: at least 400, and the webhook's message after its own wording. */
function denied(name: string, status: { code?: number; reason?: string; message?: string } | undefined): Step {
  const by = `admission webhook "${name}" denied the request`;
  const why = status?.message || status?.reason;
  return refuse(Math.max(400, status?.code ?? 0), status?.reason ?? '', why ? `${by}: ${why}` : `${by} without explanation`);
}

function review(deps: AdmissionDeps, uid: string, namespace: string, pod: KubeObject): object {
  const kind = { group: '', version: 'v1', kind: 'Pod' };
  const resource = { group: '', version: 'v1', resource: 'pods' };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid, kind, resource, requestKind: kind, requestResource: resource,
      // Go's omitempty: a pod with only generateName has no name yet.
      ...(pod.metadata.name ? { name: pod.metadata.name } : {}),
      namespace, operation: 'CREATE', userInfo: deps.userInfo,
      object: pod, oldObject: null, dryRun: false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1', ...(deps.fieldManager ? { fieldManager: deps.fieldManager } : {}) },
    },
  };
}
