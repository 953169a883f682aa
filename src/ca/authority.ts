import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import type { KeyAlgorithm } from '../pki/keys.js';
import { MeshidError } from '../common/errors.js';
import { withJwtKey } from './jwt/rotation.js';
import { createCaFiles, loadCaMaterial, type CaMaterial } from './material.js';
import { JWT_FILES, STORE_READ_ONLY, StoreConflictError, type CaStore, type StoredCaFiles } from './store.js';

export interface AuthorityOptions {
  store: CaStore;
  trustDomain: string;
  clock: Clock;
  random: (n: number) => Buffer;
  logger: Logger;
  keyAlgorithm?: KeyAlgorithm;
}

/**
 * Holds the CA material in use and keeps it current: created on first start (one winner when
 * several replicas race), reloaded when the store changes, the last good material kept if a
 * change cannot be loaded.
 */
export class CertificateAuthority {
  private material: CaMaterial;
  private version: string;
  private readonly listeners = new Set<(m: CaMaterial) => void>();
  private stopWatch: (() => void) | null = null;

  private constructor(
    private readonly o: AuthorityOptions,
    stored: StoredCaFiles,
  ) {
    this.material = loadCaMaterial(stored.files, o.clock.now());
    this.version = stored.version;
  }

  static async open(o: AuthorityOptions): Promise<CertificateAuthority> {
    let stored = await o.store.read();
    if (!stored) {
      const files = createCaFiles({ trustDomain: o.trustDomain, now: o.clock.now(), random: o.random, keyAlgorithm: o.keyAlgorithm });
      try {
        stored = await o.store.write(files, null);
        o.logger.info({ store: o.store.describe() }, 'created a self-signed root CA and a signing CA');
      } catch (err) {
        if (!(err instanceof StoreConflictError)) throw err;
        stored = await o.store.read();
        if (!stored) throw err;
        o.logger.info({ store: o.store.describe() }, 'another replica created the CA first; using it');
      }
    }
    stored = await withStoredJwtKey(o, stored);
    const authority = new CertificateAuthority(o, stored);
    authority.stopWatch = o.store.watch((s) => authority.reload(s));
    return authority;
  }

  current(): CaMaterial {
    return this.material;
  }

  /** Takes newly stored material; keeps the current one (and says why) if it does not load. */
  reload(stored: StoredCaFiles): void {
    if (stored.version === this.version) return;
    try {
      this.material = loadCaMaterial(stored.files, this.o.clock.now());
      this.version = stored.version;
      this.o.logger.info({ store: this.o.store.describe(), signingCa: this.material.signingCert.subject.replace(/\n/g, ', ') }, 'CA material reloaded');
      for (const l of this.listeners) l(this.material);
    } catch (err) {
      this.o.logger.error({ store: this.o.store.describe(), reason: (err as Error).message }, 'changed CA material could not be loaded; still using the previous CA');
    }
  }

  onChange(listener: (m: CaMaterial) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.stopWatch?.();
    this.listeners.clear();
  }
}

/**
 * Material made by an older meshid, or an operator's plug-in folder, gains a JWT signing key beside its
 * files. A store that may not be written (Istio's cacerts Secret) keeps none: the CA then serves no JWT-SVIDs.
 */
async function withStoredJwtKey(o: AuthorityOptions, stored: StoredCaFiles): Promise<StoredCaFiles> {
  for (let attempt = 0; stored.files[JWT_FILES.signingKey] === undefined; attempt++) {
    try {
      const written = await o.store.write(withJwtKey(stored.files), stored.version);
      o.logger.info({ store: o.store.describe(), file: JWT_FILES.signingKey }, 'added a JWT-SVID signing key to the CA material');
      return written;
    } catch (err) {
      if (err instanceof MeshidError && err.code === STORE_READ_ONLY) {
        o.logger.warn({ store: o.store.describe(), reason: err.message }, 'the CA material has no JWT signing key and cannot be given one; JWT-SVIDs are not served');
        return stored;
      }
      if (!(err instanceof StoreConflictError) || attempt >= 5) throw err;
      const again = await o.store.read();
      if (!again) throw err;
      stored = again;
    }
  }
  return stored;
}
