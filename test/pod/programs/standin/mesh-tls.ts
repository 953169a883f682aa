import { X509Certificate } from 'node:crypto';
import type { TlsMaterial } from './sds-subscriber.js';

type Json = Record<string, any>;

/** What the stand-in builds a TLS context from: an Up/DownstreamTlsContext's common_tls_context, resolved over SDS. */
export interface TlsPlan {
  cert: TlsMaterial;
  ca: TlsMaterial;
  alpn: string[];
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
  sans: Array<{ exact?: string; prefix?: string }>;
}

const VERSIONS: Record<string, 'TLSv1.2' | 'TLSv1.3'> = { TLSv1_2: 'TLSv1.2', TLSv1_3: 'TLSv1.3' };

export function tlsPlan(typedConfig: Json, secret: (name: string) => TlsMaterial): TlsPlan {
  const common = typedConfig.common_tls_context ?? {};
  const certName = common.tls_certificate_sds_secret_configs?.[0]?.name;
  const combined = common.combined_validation_context ?? {};
  return {
    cert: certName ? secret(certName) : {},
    ca: combined.validation_context_sds_secret_config?.name ? secret(combined.validation_context_sds_secret_config.name) : {},
    alpn: common.alpn_protocols ?? [],
    minVersion: VERSIONS[common.tls_params?.tls_minimum_protocol_version],
    maxVersion: VERSIONS[common.tls_params?.tls_maximum_protocol_version],
    sans: (combined.default_validation_context?.match_typed_subject_alt_names ?? []).filter((m: Json) => m.san_type === 'URI').map((m: Json) => m.matcher),
  };
}

/** Envoy's match_typed_subject_alt_names for URI SANs: some URI of the peer certificate matches some matcher. */
export function sanProblem(peerDer: Buffer | undefined, sans: TlsPlan['sans']): string | null {
  if (!peerDer) return 'the peer presented no certificate';
  const uris = (new X509Certificate(peerDer).subjectAltName ?? '').split(', ').filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
  if (sans.length === 0) return null;
  const ok = uris.some((u) => sans.some((m) => (m.exact !== undefined ? u === m.exact : m.prefix !== undefined ? u.startsWith(m.prefix) : false)));
  return ok ? null : `peer identity ${uris.join(',') || '(none)'} is not one of ${sans.map((m) => m.exact ?? `${m.prefix}*`).join(', ')}`;
}
