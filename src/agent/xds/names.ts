import { destinationKey, type MeshDestination } from '../../mesh/view.js';

/** The `@type` prefix of every typed_config. */
export const TYPE = 'type.googleapis.com/';

export const LISTENER = { outbound: 'virtualOutbound', inbound: 'virtualInbound' } as const;

export const CLUSTER = {
  /** Inbound connections, after mTLS or not, to the app at their original destination. */
  inbound: 'inbound-passthrough',
  /** Outbound connections to anything not known meshed, untouched. */
  passthrough: 'PassthroughCluster',
} as const;

/** ALPN of mesh mTLS (design.md, "Traffic and policy"): what tells the inbound side a peer sidecar is speaking. */
export const MESH_ALPN = 'meshid';

/**
 * Names derived from the destination's key alone, so the chain and the cluster of a destination are the same
 * bytes in every generation in which that destination did not change.
 */
export function outboundName(d: Pick<MeshDestination, 'address' | 'port'>): string {
  return `outbound|${destinationKey(d)}`;
}
