import { Ajv, type ErrorObject } from 'ajv';
import { MeshidError } from '../common/errors.js';

const MAX_UID = 128;

/**
 * The envelope the API server sends, as the webhook route declares it; `request.object` is the pod, checked by
 * the injection itself. Compiled once without type coercion (a numeric uid stays an error, not a string).
 */
export const REVIEW_REQUEST_SCHEMA = {
  type: 'object',
  required: ['apiVersion', 'kind', 'request'],
  properties: {
    apiVersion: { const: 'admission.k8s.io/v1' },
    kind: { const: 'AdmissionReview' },
    request: {
      type: 'object',
      required: ['uid', 'kind'],
      properties: {
        uid: { type: 'string', minLength: 1, maxLength: MAX_UID },
        kind: { type: 'object', required: ['version', 'kind'], properties: { group: { type: 'string' }, version: { type: 'string' }, kind: { type: 'string' } } },
        subResource: { type: ['string', 'null'] },
        namespace: { type: ['string', 'null'] },
        operation: { type: ['string', 'null'] },
        object: {},
        dryRun: {},
      },
    },
  },
} as const;

const validate = new Ajv({ coerceTypes: false, removeAdditional: false, allErrors: true }).compile(REVIEW_REQUEST_SCHEMA);

/** Throws `invalid_admission_review` naming each field at fault (the schema is small: a handful at most). */
export function checkReview(body: unknown): void {
  if (validate(body)) return;
  throw new MeshidError('invalid_admission_review', validate.errors!.map(describe).join('; '));
}

function describe(e: ErrorObject): string {
  const at = e.instancePath === '' ? 'the body' : e.instancePath.slice(1).replaceAll('/', '.');
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return `${e.instancePath === '' ? '' : `${at}.`}${String(p.missingProperty)} is missing`;
    case 'type': {
      const types = ([] as unknown[]).concat(p.type).map((t) => (t === 'object' ? 'JSON object' : String(t)));
      return `${at} is not a ${types.join(' or ')}`;
    }
    case 'const':
      return `${at} must be ${JSON.stringify(p.allowedValue)}`;
    case 'minLength':
      return `${at} is empty`;
    case 'maxLength':
      return `${at} is longer than ${String(p.limit)} characters`;
    default:
      return `${at} ${e.message ?? 'is not valid'}`;
  }
}
