import { DEFAULT_SECRET, ROOT_SECRET } from '../secrets.js';
import { agentConfigSource } from './config-source.js';
import { MESH_ALPN, TYPE } from './names.js';

type SanMatcher = { san_type: 'URI'; matcher: { exact: string } | { prefix: string } };

/** Mesh mTLS (design.md): TLS 1.3 only, ALPN meshid, our SVID (`default`) and the trust bundle (`ROOTCA`) over SDS. */
function meshTls(sans: SanMatcher[]): Record<string, unknown> {
  return {
    tls_params: { tls_minimum_protocol_version: 'TLSv1_3', tls_maximum_protocol_version: 'TLSv1_3' },
    alpn_protocols: [MESH_ALPN],
    tls_certificate_sds_secret_configs: [{ name: DEFAULT_SECRET, sds_config: agentConfigSource() }],
    combined_validation_context: {
      default_validation_context: { match_typed_subject_alt_names: sans },
      validation_context_sds_secret_config: { name: ROOT_SECRET, sds_config: agentConfigSource() },
    },
  };
}

/** Secure naming: the server must present one of exactly these SPIFFE IDs. */
export function upstreamMeshTls(identities: readonly string[]): Record<string, unknown> {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': `${TYPE}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`,
      common_tls_context: meshTls([...identities].sort().map((id) => ({ san_type: 'URI', matcher: { exact: id } }))),
    },
  };
}

/** A peer sidecar of our trust domain, with a client certificate; who may call is the RBAC filters' decision. */
export function downstreamMeshTls(trustDomain: string): Record<string, unknown> {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': `${TYPE}envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext`,
      require_client_certificate: true,
      common_tls_context: meshTls([{ san_type: 'URI', matcher: { prefix: `spiffe://${trustDomain}/` } }]),
    },
  };
}
