const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Fields every record has, shown in the line's fixed part or not at all. */
const FIXED = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name']);

/**
 * One pino JSON record as one line a person reads: time, level, message, then the other fields as
 * key=value (values with spaces quoted). pino-pretty would do it with a dependency and a worker thread.
 */
export function formatRecord(json: string): string {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.trimEnd();
  }
  const time = typeof r.time === 'number' ? new Date(r.time).toISOString() : '';
  const level = LEVEL_NAMES[r.level as number] ?? String(r.level);
  const fields = Object.entries(r).filter(([k]) => !FIXED.has(k)).map(([k, v]) => `${k}=${valueText(v)}`);
  return [time, level.padEnd(5), String(r.msg ?? ''), ...fields].filter((s) => s !== '').join(' ');
}

function valueText(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return typeof v === 'string' && /[\s"=]/.test(s) ? JSON.stringify(s) : s;
}

/** A pino destination that writes each record as formatRecord's line. */
export function textDestination(out: { write(s: string): boolean }): { write(chunk: string): boolean } {
  return { write: (chunk) => out.write(`${chunk.split('\n').filter(Boolean).map(formatRecord).join('\n')}\n`) };
}
