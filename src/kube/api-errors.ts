import { ApiException } from '@kubernetes/client-node';

/** The HTTP status of a failed API call, or undefined when the server was never reached. */
export function apiStatus(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code = (err as { statusCode?: unknown; code?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

export const isNotFound = (err: unknown): boolean => apiStatus(err) === 404;
export const isConflict = (err: unknown): boolean => apiStatus(err) === 409;

/**
 * A one-line description safe for logs and errors. ApiException messages embed the whole response
 * body and headers, which for a Secret read could carry key material; keep only status and reason.
 */
export function describeApiError(err: unknown): string {
  if (err instanceof ApiException) {
    const body = parseStatus(err.body);
    return `HTTP ${err.code}${body.reason ? ` ${body.reason}` : ''}${body.message ? `: ${body.message}` : ''}`;
  }
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

function parseStatus(body: unknown): { reason?: string; message?: string } {
  try {
    const parsed = (typeof body === 'string' ? JSON.parse(body) : body) as { kind?: string; reason?: string; message?: string };
    if (parsed?.kind !== 'Status') return {};
    return { reason: parsed.reason, message: parsed.message?.slice(0, 200) };
  } catch {
    return {};
  }
}
