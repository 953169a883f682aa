import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-write.js';
import type { Logger } from '../common/log.js';
import { VIEW_FILE } from '../common/pod-contract.js';
import type { AgentConfig } from './config.js';
import { trustedRoots } from './svid-fetch.js';
import type { SvidStore } from './svid-store.js';
import type { Timers } from './timers.js';
import { readToken } from './token.js';
import { ViewClient } from './view-client.js';

/** At most one write of the view file per interval: in a large mesh a view is megabytes and changes often. */
const WRITE_INTERVAL_MS = 1_000;

export function viewFileOf(config: AgentConfig): string {
  return config.viewFile ?? join(dirname(config.sdsSocket), VIEW_FILE);
}

/** The agent's ViewClient for its pod, with the view mirrored to VIEW_FILE; null when the pod name is unknown. */
export function followView(config: AgentConfig, deps: { store: SvidStore; timers: Timers; random: () => number; logger: Logger }): { client: ViewClient; stop(): Promise<void> } | null {
  if (!config.podName) return null;
  const client = new ViewClient({
    caUrl: config.caUrl, pod: config.podName, trustSource: config.caRootFile,
    trustedRoots: () => trustedRoots(config.caRootFile, deps.store.roots()),
    token: () => readToken(config.tokenFile),
    timers: deps.timers, random: deps.random, logger: deps.logger,
  });
  const file = viewFileOf(config);
  let scheduled: (() => void) | null = null;
  let writing = Promise.resolve();
  const write = (): void => {
    scheduled = null;
    const view = client.current();
    if (!view) return;
    writing = writing.then(() => writeFileAtomic(file, JSON.stringify(view))).catch((err: Error) => {
      deps.logger.warn({ file, err: err.message }, 'cannot write the mesh view file');
    });
  };
  const unsubscribe = client.onChange(() => {
    scheduled ??= deps.timers.after(WRITE_INTERVAL_MS, write);
  });
  return {
    client,
    async stop() {
      unsubscribe();
      scheduled?.();
      await client.stop();
      await writing;
    },
  };
}
