import type { OpenidApi, WellKnownApi } from '@kubernetes/client-node';
import type { JwksFetcher } from '../ca/auth/jwks-verifier.js';
import { MeshidError } from '../common/errors.js';
import { describeApiError } from './api-errors.js';

/**
 * The API server's service account issuer discovery (/.well-known/openid-configuration, /openid/v1/jwks),
 * fetched with the control plane's own credentials and the cluster CA, which a plain HTTPS fetch lacks.
 */
export async function clusterIssuer(wellKnown: WellKnownApi): Promise<string> {
  let doc: { issuer?: unknown };
  try {
    doc = parse(await wellKnown.getServiceAccountIssuerOpenIDConfiguration()) as { issuer?: unknown };
  } catch (err) {
    throw new MeshidError('oidc_discovery_failed', `cannot read the cluster's service account issuer configuration: ${describeApiError(err)}`, 503);
  }
  if (typeof doc?.issuer !== 'string' || !doc.issuer) {
    throw new MeshidError('oidc_discovery_failed', 'the cluster\'s /.well-known/openid-configuration names no issuer', 503);
  }
  return doc.issuer;
}

export function clusterJwksFetcher(openid: OpenidApi): JwksFetcher {
  return async () => {
    try {
      return parse(await openid.getServiceAccountIssuerOpenIDKeyset());
    } catch (err) {
      throw new Error(`GET /openid/v1/jwks: ${describeApiError(err)}`);
    }
  };
}

/** The generated client types these documents as strings but hands back parsed JSON when the server says application/json. */
function parse(body: unknown): unknown {
  return typeof body === 'string' ? JSON.parse(body) : body;
}
