import { awaitsPublication, formatRotationStatus, rotationStatus, type PublicationProgress } from '../status.js';
import { PLUGIN_FILES, StoreConflictError, type CaStore } from '../store.js';
import { requestRotation } from './plan.js';
import { parseRotationState } from './state.js';

export interface RotateRootOptions {
  store: CaStore;
  wait: boolean;
  now: () => number;
  random: (n: number) => Buffer;
  print: (line: string) => void;
  /** How long to watch for the control plane taking the request before saying it is only recorded. */
  pickupMs?: number;
  pollMs?: number;
  /** With wait: a progress line at least this often, even when nothing but the time left changed. */
  progressEveryMs?: number;
  /** Cluster mode: how many namespaces hold a bundle, shown while the rotation waits for it to be published. */
  publication?: (bundle: string) => Promise<PublicationProgress | undefined>;
}

/**
 * `meshid ca rotate-root` over any CaStore: records the request (or reports the rotation already
 * under way) and, with wait, follows it to idle. The control plane's driver does the work.
 */
export async function rotateRoot(o: RotateRootOptions): Promise<void> {
  const pollMs = o.pollMs ?? 500;
  let id: string | undefined;
  for (;;) {
    const stored = await o.store.read();
    if (!stored) throw new Error(`no CA material in ${o.store.describe()}; start the control plane first`);
    const current = parseRotationState(stored.files);
    if (current.phase !== 'idle') {
      id = current.id;
      o.print(`root rotation ${id} is already in progress; not starting another`);
      o.print(formatRotationStatus(rotationStatus(stored.files), o.now()));
      break;
    }
    const request = requestRotation(stored.files, o.now(), o.random);
    try {
      await o.store.write(request.files, stored.version);
    } catch (err) {
      if (err instanceof StoreConflictError) continue;
      throw err;
    }
    id = request.state.id;
    o.print(`root rotation ${id} requested in ${o.store.describe()}`);
    if (!o.wait) {
      const taken = await waitFor(o.store, (phase) => phase !== 'requested', o.pickupMs ?? 3000, pollMs);
      o.print(taken
        ? 'the control plane has started it; follow it with "meshid ca rotate-root --wait" or "meshid ca status"'
        : 'no control plane has picked it up yet: the rotation is recorded and will be driven by the control plane (meshid serve) on this CA store');
    }
    break;
  }
  if (o.wait) await follow(o, id!, pollMs);
}

async function follow(o: RotateRootOptions, id: string, pollMs: number): Promise<void> {
  let shown = '';
  let shownAt = 0;
  for (;;) {
    const stored = await o.store.read();
    if (!stored) throw new Error(`CA material in ${o.store.describe()} disappeared`);
    const status = rotationStatus(stored.files);
    if (status.phase === 'error') throw new Error(status.waitingFor);
    if (status.phase === 'idle') {
      // The driver may retire and finish in one tick, so retire is never seen as a phase of its own.
      if (status.id === id && !shown.startsWith('retire')) o.print(`rotation: retire (${id}): the old root has left the trust bundle`);
      o.print(status.id === id ? `root rotation ${id} complete: the new root is the only trusted root and the new CA signs` : `no rotation in progress (${status.waitingFor})`);
      return;
    }
    const publication = o.publication && awaitsPublication(status) ? await o.publication(stored.files[PLUGIN_FILES.roots] ?? '') : undefined;
    const key = `${status.phase} ${status.waitingFor} ${publication?.published}/${publication?.namespaces}`;
    const now = o.now();
    if (key !== shown || now - shownAt >= (o.progressEveryMs ?? 10_000)) {
      o.print(formatRotationStatus(status, now, publication));
      shown = key;
      shownAt = now;
    }
    await sleep(pollMs);
  }
}

async function waitFor(store: CaStore, done: (phase: string) => boolean, timeoutMs: number, pollMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    await sleep(pollMs);
    const stored = await store.read();
    if (stored && done(rotationStatus(stored.files).phase)) return true;
  }
  return false;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
