import { ROTATION_FILE } from '../../src/ca/rotation/state.js';
import type { CaFiles, CaStore, StoredCaFiles } from '../../src/ca/store.js';

export class Crash extends Error {
  constructor(n: number, when: string) {
    super(`simulated crash ${when} store write #${n}`);
  }
}

/**
 * 'after-every': every write commits, then the writer dies before it learns so (it never sees its own
 *   step succeed); the next process must carry on from what is stored.
 * 'before-every-other': the first attempt at each step dies before reaching the store; the retry by
 *   the next process (which decides afresh, e.g. generates other keys) goes through.
 */
export type CrashMode = 'after-every' | 'before-every-other';

/**
 * The store as the simulation sees it. Watches are off because the simulation ticks the driver and
 * reloads the CA itself at each simulated instant (a real watch would fire on wall-clock time).
 * Only the rotation driver's writes after arm() crash and are counted.
 */
export class SimStore implements CaStore {
  writes = 0;
  private armed = false;
  constructor(
    private readonly inner: CaStore,
    private readonly crash: CrashMode | null = null,
  ) {}

  arm(): void {
    this.armed = true;
  }

  read(): Promise<StoredCaFiles | null> {
    return this.inner.read();
  }

  async write(files: CaFiles, expected: string | null): Promise<StoredCaFiles> {
    // Every rotation step changes rotation.json; the CA's record of issued leaves does not and is not the driver's.
    const byDriver = files[ROTATION_FILE] !== (await this.inner.read())?.files[ROTATION_FILE];
    if (!this.armed || !byDriver) return this.inner.write(files, expected);
    const n = ++this.writes;
    if (this.crash === 'before-every-other' && n % 2 === 1) throw new Crash(n, 'before');
    const written = await this.inner.write(files, expected);
    if (this.crash === 'after-every') throw new Crash(n, 'after');
    return written;
  }

  watch(): () => void {
    return () => {};
  }

  describe(): string {
    return this.inner.describe();
  }
}
