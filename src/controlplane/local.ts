import { join, resolve } from 'node:path';
import { checkDataDir } from '../common/data-dir.js';
import { jwtVerifier } from '../ca/auth/jwt-verifier.js';
import { loadLocalIssuer, LOCAL_ALGORITHM } from '../ca/auth/local-issuer.js';
import { FileCaStore } from '../ca/file-store.js';
import { PLUGIN_FILES } from '../ca/store.js';
import type { ModeFactory } from './mode.js';
import { CONTROL_PLANE_NAMESPACE } from '../common/control-plane.js';

/** `meshid serve --local`: CA material and the token issuer in a folder; one process, always in charge. */
export const localMode: ModeFactory = async (cfg, ctx) => {
  const dataDir = resolve(cfg.dataDir);
  await checkDataDir(dataDir);
  const issuer = await loadLocalIssuer(dataDir);
  const trustBundlePath = join(dataDir, PLUGIN_FILES.roots);
  return {
    store: new FileCaStore(dataDir),
    verifier: jwtVerifier({ key: issuer.publicKey, issuer: issuer.issuer, algorithms: [LOCAL_ALGORITHM], clock: ctx.clock }),
    namespace: ctx.namespace ?? CONTROL_PLANE_NAMESPACE,
    trustBundle: trustBundlePath,
    dataDir,
    trustBundlePath,
    startup: (_what, step) => step(),
    attach: () => ({ rotation: {}, isLeader: () => true, close: async () => {} }),
  };
};
