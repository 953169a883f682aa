/**
 * Where the control plane is, as the install (manifests/) deploys it and as the injector tells pods to reach it:
 * one definition for the serve defaults, the injector's CA address and the manifests test.
 */
export const CONTROL_PLANE_NAMESPACE = 'meshid-system';
export const CONTROL_PLANE_SERVICE = 'meshid';

export const CONTROL_PLANE_PORTS = {
  webhook: 15017,
  ca: 15012,
  /** Istio's CA API (istio.v1.auth.IstioCertificateService) over gRPC with TLS. */
  istioCa: 15013,
  monitoring: 15014,
} as const;

/** host:port of the CA API as pods see it: the Service's cluster DNS name. */
export function caAddressIn(namespace: string): string {
  return `${CONTROL_PLANE_SERVICE}.${namespace}.svc:${CONTROL_PLANE_PORTS.ca}`;
}
