/** At most `max` characters of `text`, marked with an ellipsis when cut: for echoing untrusted values in messages. */
export function truncate(text: string, max = 64): string {
  const s = String(text);
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** Quoted, shortened and with control characters escaped: values come from untrusted pods. */
export const show = (text: string): string => JSON.stringify(truncate(text, 48));
