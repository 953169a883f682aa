import { MeshidError } from '../../common/errors.js';
import { validateNamespace, validateServiceAccount } from '../../pki/spiffe.js';
import type { Caller } from './verifier.js';

const SUBJECT = /^system:serviceaccount:([^:]+):([^:]+)$/;

/**
 * The caller named by already signature-checked claims: `sub` must be
 * `system:serviceaccount:<ns>:<sa>`, and a projected token's `kubernetes.io` block must agree with it.
 */
export function callerFromClaims(claims: Record<string, unknown>): Caller {
  const sub = typeof claims.sub === 'string' ? claims.sub : '';
  const m = SUBJECT.exec(sub);
  if (!m) throw unauthorized('token_not_service_account', 'the token subject is not system:serviceaccount:<namespace>:<name>');
  const namespace = safeName(() => validateNamespace(m[1]!));
  const serviceAccount = safeName(() => validateServiceAccount(m[2]!));
  const caller: Caller = { namespace, serviceAccount, expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : 0 };

  const k8s = claims['kubernetes.io'];
  if (k8s !== undefined) {
    if (typeof k8s !== 'object' || k8s === null) throw unauthorized('token_claims_invalid', 'the token kubernetes.io claim is not an object');
    const block = k8s as { namespace?: unknown; serviceaccount?: { name?: unknown }; pod?: { name?: unknown; uid?: unknown }; node?: { name?: unknown; uid?: unknown } };
    if (block.namespace !== namespace || block.serviceaccount?.name !== serviceAccount) {
      throw unauthorized('token_claims_invalid', 'the token kubernetes.io namespace/serviceaccount do not match its subject');
    }
    if (block.pod && typeof block.pod.name === 'string' && typeof block.pod.uid === 'string') {
      caller.pod = { name: block.pod.name, uid: block.pod.uid };
    }
    if (block.node && typeof block.node.name === 'string' && block.node.name !== '') {
      caller.node = { name: block.node.name, ...(typeof block.node.uid === 'string' ? { uid: block.node.uid } : {}) };
    }
  }
  return caller;
}

export function unauthorized(code: string, message: string): MeshidError {
  return new MeshidError(code, message, 401);
}

function safeName(check: () => string): string {
  try {
    return check();
  } catch {
    throw unauthorized('token_not_service_account', 'the token subject names an invalid namespace or service account');
  }
}
