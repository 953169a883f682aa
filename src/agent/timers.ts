/** Scheduling passed in, like the clock, so the renewal loop is driven step by step in tests. */
export interface Timers {
  /** Runs `fn` after `ms`; returns a function that cancels it. */
  after(ms: number, fn: () => void): () => void;
}

function nodeTimers(keepAlive: boolean): Timers {
  return {
    after(ms, fn) {
      // Node timers overflow past 2^31-1 ms (~24.8 days) and fire at once; a long wait is taken in steps.
      const MAX = 2_147_000_000;
      let timer: NodeJS.Timeout;
      const arm = (left: number): void => {
        timer = setTimeout(() => (left > MAX ? arm(left - MAX) : fn()), Math.min(left, MAX));
        if (!keepAlive) timer.unref();
      };
      arm(Math.max(0, ms));
      return () => clearTimeout(timer);
    },
  };
}

/** For the long-running agent, whose servers keep the process alive: a pending renewal never holds up its exit. */
export const realTimers: Timers = nodeTimers(false);

/** For `--once`, where a pending retry is all there is: the process must wait for it, not end. */
export const keepAliveTimers: Timers = nodeTimers(true);
