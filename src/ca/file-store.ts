import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, writeNewFileSynced } from '../common/atomic-write.js';
import { isPrivateKeyFile, StoreConflictError, type CaFiles, type CaStore, type StoredCaFiles } from './store.js';

const MANAGED = /^[a-z0-9][a-z0-9._-]{0,100}\.(pem|json)$/i;
const MAX_FILE = 1024 * 1024;
const LOCK_STALE_MS = 30_000;

/**
 * CA material as files in a folder (the plug-in layout), for local mode and plug-in CAs.
 * A write of several files is made all-or-nothing by a small journal: the new files are staged,
 * a commit marker is written, then they are renamed into place. A crash before the marker leaves
 * the old set; after it, the next reader finishes the job. A lock file serialises writers, so
 * `meshid ca …` and a running `meshid serve` can share the folder.
 */
export class FileCaStore implements CaStore {
  constructor(
    private readonly dir: string,
    private readonly pollMs = 1000,
  ) {}

  describe(): string {
    return this.dir;
  }

  /** Under the lock, so a reader never sees a set that a writer is half-way through replacing. */
  async read(): Promise<StoredCaFiles | null> {
    // A reader never creates the folder: a poll racing its removal must not bring it back.
    if (!(await exists(this.dir))) return null;
    return this.withLock(async () => {
      await this.recover();
      const files = await this.readFiles();
      if (Object.keys(files).length === 0) return null;
      return { files, version: versionOf(files) };
    });
  }

  async write(files: CaFiles, expected: string | null): Promise<StoredCaFiles> {
    for (const name of Object.keys(files)) {
      if (!MANAGED.test(name)) throw new Error(`CA file name "${name.slice(0, 64)}" is not allowed in ${this.dir}`);
    }
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    return this.withLock(async () => {
      await this.recover();
      const current = await this.readFiles();
      const currentVersion = Object.keys(current).length === 0 ? null : versionOf(current);
      if (currentVersion !== expected) throw new StoreConflictError(this.dir);
      await this.commit(current, files);
      return { files: { ...files }, version: versionOf(files) };
    });
  }

  watch(onChange: (stored: StoredCaFiles) => void): () => void {
    let last: string | null = null;
    let busy = false;
    const poll = async () => {
      if (busy) return;
      busy = true;
      try {
        const stored = await this.read();
        if (stored && last !== null && stored.version !== last) onChange(stored);
        if (stored) last = stored.version;
      } catch {
        // A half-replaced file set is retried on the next tick; the last good material stays in use.
      } finally {
        busy = false;
      }
    };
    void poll();
    const timer = setInterval(poll, this.pollMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  private async readFiles(): Promise<Record<string, string>> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
    const files: Record<string, string> = {};
    for (const name of names.filter((n) => MANAGED.test(n)).sort()) {
      const path = join(this.dir, name);
      const info = await stat(path);
      if (!info.isFile()) continue;
      if (info.size > MAX_FILE) throw new Error(`${path} is larger than ${MAX_FILE} bytes; it cannot be CA material`);
      files[name] = await readFile(path, 'utf8');
    }
    return files;
  }

  private async commit(current: Record<string, string>, next: CaFiles): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const gen = randomBytes(6).toString('hex');
    const writes = Object.keys(next).filter((n) => current[n] !== next[n]);
    const deletes = Object.keys(current).filter((n) => !(n in next));
    for (const name of writes) {
      await writeNewFileSynced(join(this.dir, pendingName(gen, name)), next[name]!, isPrivateKeyFile(name) ? 0o600 : 0o644);
    }
    await writeFileAtomic(join(this.dir, `.commit-${gen}`), JSON.stringify({ writes, deletes }), 0o600);
    await this.apply(gen, writes, deletes);
  }

  private async apply(gen: string, writes: string[], deletes: string[]): Promise<void> {
    for (const name of writes) {
      await rename(join(this.dir, pendingName(gen, name)), join(this.dir, name)).catch(ignoreMissing);
    }
    for (const name of deletes) await rm(join(this.dir, name), { force: true });
    await rm(join(this.dir, `.commit-${gen}`), { force: true });
  }

  /** Finishes any committed journal and drops anything staged but never committed. */
  private async recover(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return;
    }
    for (const marker of names.filter((n) => n.startsWith('.commit-'))) {
      const gen = marker.slice('.commit-'.length);
      try {
        const { writes, deletes } = JSON.parse(await readFile(join(this.dir, marker), 'utf8')) as { writes: string[]; deletes: string[] };
        await this.apply(gen, writes.filter((n) => MANAGED.test(n)), deletes.filter((n) => MANAGED.test(n)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    // Committed generations were renamed above; what is left was staged by a writer that died before committing.
    const leftovers = (await readdir(this.dir)).filter((n) => n.startsWith('.pending-') || (n.startsWith('.') && n.endsWith('.tmp')));
    for (const name of leftovers) await rm(join(this.dir, name), { force: true });
  }

  private async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const lock = join(this.dir, '.lock');
    for (let attempt = 0; ; attempt++) {
      try {
        await writeFile(lock, String(process.pid), { flag: 'wx' });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if (await lockIsStale(lock)) await rm(lock, { force: true });
        else if (attempt > 200) throw new Error(`${lock} is held by another process; remove it if no meshid process is running`);
        else await new Promise((r) => setTimeout(r, 25));
      }
    }
    try {
      return await fn();
    } finally {
      await rm(lock, { force: true });
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

function pendingName(gen: string, name: string): string {
  return `.pending-${gen}-${name}`;
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}

export function versionOf(files: CaFiles): string {
  const h = createHash('sha256');
  for (const name of Object.keys(files).sort()) h.update(name).update('\0').update(files[name]!).update('\0');
  return h.digest('hex').slice(0, 32);
}

async function lockIsStale(lock: string): Promise<boolean> {
  try {
    const [pid, info] = await Promise.all([readFile(lock, 'utf8'), stat(lock)]);
    if (Date.now() - info.mtimeMs > LOCK_STALE_MS) return true;
    process.kill(Number(pid), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH' || (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}
