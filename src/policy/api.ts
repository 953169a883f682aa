/**
 * The policy CRDs' identity, named once: the manifests, the validator, the CLI and the control plane's watches
 * all read it from here.
 */
export const POLICY_GROUP = 'security.meshid.io';
export const POLICY_VERSION = 'v1';
export const POLICY_API_VERSION = `${POLICY_GROUP}/${POLICY_VERSION}`;
/** Istio's group: its YAML differs from ours only in apiVersion, so the validator says so instead of "unknown". */
export const ISTIO_SECURITY_GROUP = 'security.istio.io';

export const POLICY_KINDS = {
  PeerAuthentication: { plural: 'peerauthentications', singular: 'peerauthentication' },
  AuthorizationPolicy: { plural: 'authorizationpolicies', singular: 'authorizationpolicy' },
} as const;

export type PolicyKind = keyof typeof POLICY_KINDS;

export function isPolicyKind(kind: unknown): kind is PolicyKind {
  return typeof kind === 'string' && Object.hasOwn(POLICY_KINDS, kind);
}
