/**
 * What the agent sends and the CA accepts as a ServiceAccount token, defined once for both sides. Projected tokens
 * are about 1 KB; node itself refuses headers over 16 KB with a 431, so the agent refuses a file the CA could
 * never accept instead of sending it.
 */
export const MAX_TOKEN_BYTES = 8 * 1024;

/** Leeway on `exp`/`nbf` for clock skew between the token issuer and the CA, whichever verifier checks it. */
export const TOKEN_LEEWAY_SECONDS = 30;

/** Three base64url parts; an empty signature is let through so that `alg: none` is refused by name. */
export const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
