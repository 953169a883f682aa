import { truncate } from './text.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d{1,9})(ms|s|m|h|d)$/;

/** Parses `90s`, `15m`, `24h`, `7d` (and `500ms`) into milliseconds; throws naming the bad value. */
export function parseDuration(text: string, what = 'duration'): number {
  const m = DURATION.exec(text.trim());
  if (/^-\d/.test(text.trim())) throw new Error(`${what}: "${truncate(text)}" is negative; durations are positive, like 90s, 15m, 24h or 7d`);
  if (!m) throw new Error(`${what}: "${truncate(text)}" is not a duration; write it like 90s, 15m, 24h or 7d`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** The shortest exact spelling of a duration, e.g. 86400000 → "24h". */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit]!;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
