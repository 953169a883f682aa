import { parseMatch } from './match.js';

/**
 * Syntax of each kind of value a policy names. Each check returns what is wrong (to follow `<path>: "<value>"`)
 * or undefined. Wildcards are checked for the text around them: a `*` inside a value would match nothing in
 * Envoy, so it is refused rather than silently never matching.
 */

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const TRUST_DOMAIN = /^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$/;
/** Characters a SPIFFE ID path segment of ours can hold, for the text beside a wildcard. */
const SPIFFE_CHARS = /^[a-z0-9._/-]*$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
/** RFC 9110 token characters, upper case: methods are case-sensitive and every standard one is upper case. */
const METHOD = /^[A-Z0-9!#$%&'+.^_`|~-]+$/;
/** What may appear in a URL path as Envoy compares it (no query, fragment, space or control character). */
const PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()+,;=:@%/]*$/;

export const MAX_VALUE_LENGTH = 1024;

function wildcardInside(value: string): boolean {
  const m = parseMatch(value);
  return m.kind !== 'any' && m.text.includes('*');
}

export function principalProblem(value: string): string | undefined {
  const hint = 'is not a principal (trust-domain/ns/NS/sa/SA, or * prefix/suffix)';
  if (value === '' || wildcardInside(value)) return hint;
  const m = parseMatch(value);
  if (m.kind === 'any') return undefined;
  if (m.kind !== 'exact') return m.text !== '' && SPIFFE_CHARS.test(m.text) ? undefined : hint;
  if (value.startsWith('spiffe://')) return `${hint}: write it without spiffe://`;
  const parts = value.split('/');
  if (parts.length !== 5 || parts[1] !== 'ns' || parts[3] !== 'sa') return hint;
  const [td, , ns, , sa] = parts as [string, string, string, string, string];
  if (!TRUST_DOMAIN.test(td) || td.length > 255) return `${hint}: "${td}" is not a trust domain`;
  if (!DNS_LABEL.test(ns) || ns.length > 63) return `${hint}: "${ns}" is not a namespace name`;
  if (!DNS_SUBDOMAIN.test(sa) || sa.length > 253) return `${hint}: "${sa}" is not a service account name`;
  return undefined;
}

export function namespaceProblem(value: string): string | undefined {
  const hint = 'is not a namespace (a name, or * prefix/suffix)';
  if (value === '' || wildcardInside(value)) return hint;
  const m = parseMatch(value);
  if (m.kind === 'any') return undefined;
  if (m.kind === 'exact') return DNS_LABEL.test(value) && value.length <= 63 ? undefined : hint;
  return m.text !== '' && /^[a-z0-9-]+$/.test(m.text) ? undefined : hint;
}

export function portProblem(value: string): string | undefined {
  const n = /^[0-9]{1,5}$/.test(value) ? Number(value) : NaN;
  return n >= 1 && n <= 65535 ? undefined : 'is not a port (1-65535)';
}

export function methodProblem(value: string): string | undefined {
  if (value === '' || wildcardInside(value)) return 'is not an HTTP method';
  const m = parseMatch(value);
  if (m.kind === 'any') return undefined;
  if (m.text === '' || !METHOD.test(m.text)) return /[a-z]/.test(m.text) ? 'is not an HTTP method (methods are upper case: GET)' : 'is not an HTTP method';
  return undefined;
}

export function pathProblem(value: string): string | undefined {
  const hint = 'is not a path (exact /a/b, prefix /a/*, suffix *.b, or *)';
  if (value === '' || wildcardInside(value)) return hint;
  const m = parseMatch(value);
  if (m.kind === 'any') return undefined;
  if (m.text === '' || !PATH_CHARS.test(m.text)) return hint;
  if (m.kind !== 'suffix' && !m.text.startsWith('/')) return `${hint}: it must start with /`;
  return undefined;
}

/** A label key: optional DNS subdomain prefix and `/`, then a name of at most 63 characters. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (!DNS_SUBDOMAIN.test(prefix) || prefix.length > 253)) return 'is not a label key (its prefix is not a DNS subdomain)';
  return LABEL_NAME.test(name) && name.length <= 63 ? undefined : 'is not a label key';
}

export function labelValueProblem(value: string): string | undefined {
  return value === '' || (LABEL_NAME.test(value) && value.length <= 63) ? undefined : 'is not a label value';
}

export function objectNameProblem(value: string): string | undefined {
  return DNS_SUBDOMAIN.test(value) && value.length <= 253 ? undefined : 'is not an object name (a DNS subdomain)';
}

export function namespaceNameProblem(value: string): string | undefined {
  return DNS_LABEL.test(value) && value.length <= 63 ? undefined : 'is not a namespace name';
}
