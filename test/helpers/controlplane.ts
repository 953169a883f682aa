import { after } from 'node:test';
import { silentLogger } from '../../src/common/log.js';
import { mintLocalToken } from '../../src/ca/auth/local-issuer.js';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../../src/controlplane/start.js';
import { readFile } from 'node:fs/promises';
import { tempDir } from './openssl.js';

export interface Cleanup {
  after(fn: () => unknown): void;
}

/** Called in a describe body: what is started in its `before` hooks is closed when the suite ends, last first. */
export function suiteCleanup(): Cleanup {
  const fns: Array<() => unknown> = [];
  after(async () => {
    for (const fn of fns.reverse()) await fn();
  });
  return { after: (fn) => void fns.push(fn) };
}

export interface LocalCa extends ControlPlane {
  roots(): Promise<string>;
  token(namespace: string, serviceAccount: string, o?: { audience?: string; ttlSeconds?: number }): Promise<string>;
}

/** A real control plane in local mode on free ports, closed when the test (or, given a suite's `after`, the suite) ends. */
export async function startLocalCa(t: Cleanup, o: Partial<ControlPlaneOptions> = {}): Promise<LocalCa> {
  const cp = await startControlPlane({
    dataDir: o.dataDir ?? (await tempDir('meshid-ca-')),
    local: true, caPort: 0, istioCaPort: 0, webhookPort: 0, monitoringPort: 0, logger: silentLogger, ...o,
  });
  t.after(() => cp.close());
  return {
    ...cp,
    roots: () => readFile(cp.trustBundlePath, 'utf8'),
    token: (namespace, serviceAccount, to = {}) => mintLocalToken({ dataDir: cp.dataDir, namespace, serviceAccount, ...to }),
  };
}
