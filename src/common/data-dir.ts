import { constants } from 'node:fs';
import { access } from 'node:fs/promises';

/**
 * Said first, before anything else reads a file in it: without this an unreadable folder surfaces as a
 * missing key ("run meshid serve to create it") or a lock error, neither of which names the real problem.
 * A folder that does not exist yet is fine: whoever needs it creates it.
 */
export async function checkDataDir(dir: string, uid: number | undefined = process.getuid?.()): Promise<void> {
  try {
    await access(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new Error(`permission denied on the data directory ${dir}${uid === undefined ? '' : ` (running as uid ${uid})`}: give this user read and write access to it, or choose another --data-dir`);
    }
    throw new Error(`cannot use the data directory ${dir}: ${code ?? (err as Error).message}`);
  }
}
