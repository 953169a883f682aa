import type { Logger } from '../common/log.js';

/**
 * Logs a failure that keeps repeating (a CA that stays down) once, and again only when it changes, so a
 * long outage is one line in the log, not one per retry; repeats go to debug. Remembers the last one for
 * the readiness answer.
 */
export class ProblemLog {
  private last: { code: string; reason: string } | null = null;

  constructor(private readonly logger: Logger) {}

  report(code: string, reason: string, fields: Record<string, unknown>, message: string = reason): void {
    const repeated = this.last?.code === code && this.last.reason === reason;
    this.last = { code, reason };
    if (repeated) this.logger.debug({ code, ...fields }, message);
    else this.logger.warn({ code, ...fields }, message);
  }

  /** The problem is over: the next failure is news again. */
  clear(): void {
    this.last = null;
  }

  current(): string | null {
    return this.last?.reason ?? null;
  }
}
