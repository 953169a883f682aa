import type { MeshDestination } from '../../src/mesh/view.js';
import type { EnvoyFilter, InboundPortPlan, SidecarPlan } from '../../src/policy/plan.js';

/** Hand-built plans for the xDS tests, as src/policy would decide them. */
export const TD = 'cluster.local';
export const WEB = 'spiffe://cluster.local/ns/shop/sa/web';
export const API = 'spiffe://cluster.local/ns/shop/sa/api';
export const API_V2 = 'spiffe://cluster.local/ns/shop/sa/api-v2';

export function port(p: number | null, mode: InboundPortPlan['mode'], o: Partial<InboundPortPlan> = {}): InboundPortPlan {
  return { port: p, mode, http: false, networkRbac: [], httpRbac: [], ...o };
}

export function plan(inbound: InboundPortPlan[], outbound: MeshDestination[] = []): SidecarPlan {
  return { trustDomain: TD, inbound, outbound };
}

/** Network RBAC: only `principal` may connect (ALLOW). */
export function allowOnly(principal: string): EnvoyFilter {
  return {
    name: 'envoy.filters.network.rbac',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC',
      stat_prefix: 'tcp.',
      rules: { action: 'ALLOW', policies: { 'shop/allow-web': { permissions: [{ any: true }], principals: [{ authenticated: { principal_name: { exact: principal } } }] } } },
    },
  };
}

/** HTTP RBAC: DENY every DELETE. */
export function denyDelete(): EnvoyFilter {
  return {
    name: 'envoy.filters.http.rbac',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
      rules: { action: 'DENY', policies: { 'shop/deny-delete': { permissions: [{ header: { name: ':method', string_match: { exact: 'DELETE' } } }], principals: [{ any: true }] } } },
    },
  };
}

export const DESTINATIONS: MeshDestination[] = [
  { address: '10.0.0.7', port: null, identities: [API] },
  { address: '10.96.0.10', port: 80, identities: [API_V2, API] },
  { address: 'fd00:10::7', port: null, identities: [API] },
  { address: 'fd00:96::10', port: 8080, identities: [API] },
];

/** `n` meshed pod IPs, for the large-mesh figures. */
export function manyDestinations(n: number): MeshDestination[] {
  return Array.from({ length: n }, (_, i) => ({ address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: i % 2 ? 8080 : null, identities: [`spiffe://cluster.local/ns/ns${i % 50}/sa/sa${i % 7}`] }));
}
