import { MeshidError } from '../../common/errors.js';

/** The token of an `Authorization: Bearer <token>` header; 401 with a code for anything else. */
export function bearerToken(header: string | undefined): string {
  if (!header) throw new MeshidError('token_missing', 'send the ServiceAccount token as "Authorization: Bearer <token>"', 401);
  const m = /^Bearer ([^\s]+)$/i.exec(header);
  if (!m) throw new MeshidError('token_malformed', 'the Authorization header must be "Bearer <token>"', 401);
  return m[1]!;
}
