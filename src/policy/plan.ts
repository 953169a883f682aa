import type { MeshDestination, MtlsMode } from '../mesh/view.js';

/**
 * What one sidecar enforces, decided from its WorkloadView by the policy code and turned into Envoy listeners
 * and clusters by the xDS code: the seam between "what the policy means" and "how Envoy is told".
 */

/** An Envoy filter as it goes into a filter chain: `typed_config` carries its `@type` (proto3 JSON, snake_case). */
export interface EnvoyFilter {
  name: string;
  typed_config: { '@type': string } & Record<string, unknown>;
}

export interface InboundPortPlan {
  /** The pod port; `null` is every port no other entry names. */
  port: number | null;
  mode: MtlsMode;
  /** HTTP ports get an HTTP connection manager, so `httpRbac` (methods, paths) can apply. */
  http: boolean;
  /** envoy.filters.network.rbac filters, DENY before ALLOW; empty when no AuthorizationPolicy applies. */
  networkRbac: EnvoyFilter[];
  /** envoy.filters.http.rbac filters for HTTP ports, DENY before ALLOW. */
  httpRbac: EnvoyFilter[];
}

export interface SidecarPlan {
  trustDomain: string;
  /** Sorted by port, the `null` (every other port) entry last. */
  inbound: InboundPortPlan[];
  /** Meshed destinations: outbound mTLS to exactly these identities; everything else passes through. */
  outbound: MeshDestination[];
}
