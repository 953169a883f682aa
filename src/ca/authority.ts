import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import type { KeyAlgorithm } from '../pki/keys.js';
import { MeshidError } from '../common/errors.js';
import { withJwtKey } from './jwt/rotation.js';
import { fingerprintOf, LeafHorizonRecorder, sameSigningMaterial, withFreshCa } from './leaf-horizon.js';
import { createCaFiles, loadCaMaterial, type CaMaterial } from './material.js';
import { JWT_FILES, PLUGIN_FILES, STORE_READ_ONLY, StoreConflictError, type CaFiles, type CaStore, type StoredCaFiles } from './store.js';

/** How far ahead of a leaf's NotAfter the issued-leaves record is written: about one store write a minute. */
const HORIZON_AHEAD_MS = 60_000;

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
  private files: CaFiles;
  private fingerprint: string;
  private readonly horizon: LeafHorizonRecorder;
  private readonly listeners = new Set<(m: CaMaterial) => void>();
  private stopWatch: (() => void) | null = null;

  private constructor(
    private readonly o: AuthorityOptions,
    stored: StoredCaFiles,
  ) {
    this.material = loadCaMaterial(stored.files, o.clock.now());
    this.version = stored.version;
    this.files = stored.files;
    this.fingerprint = this.material.signingCert.fingerprint256;
    this.horizon = new LeafHorizonRecorder({ store: o.store, clock: o.clock, aheadMs: HORIZON_AHEAD_MS, onWritten: (s) => this.reload(s) });
  }

  static async open(o: AuthorityOptions): Promise<CertificateAuthority> {
    let stored = await o.store.read();
    if (!stored) {
      const created = createCaFiles({ trustDomain: o.trustDomain, now: o.clock.now(), random: o.random, keyAlgorithm: o.keyAlgorithm });
      const files = withFreshCa(created, fingerprintOf(created[PLUGIN_FILES.signingCert]!), o.clock.now());
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
    if (sameSigningMaterial(stored.files, this.files)) {
      // Only the rotation state or the issued-leaves record changed: nothing to reload or announce.
      [this.version, this.files] = [stored.version, stored.files];
      return;
    }
    try {
      this.material = loadCaMaterial(stored.files, this.o.clock.now());
      [this.version, this.files, this.fingerprint] = [stored.version, stored.files, this.material.signingCert.fingerprint256];
      this.o.logger.info({ store: this.o.store.describe(), signingCa: this.material.signingCert.subject.replace(/\n/g, ', ') }, 'CA material reloaded');
      for (const l of this.listeners) l(this.material);
    } catch (err) {
      this.o.logger.error({ store: this.o.store.describe(), reason: (err as Error).message }, 'changed CA material could not be loaded; still using the previous CA');
    }
  }

  /**
   * Resolves once the store vouches that every leaf `material` signed expires by `notAfter`: call it before a
   * leaf is handed out. Rejects if the store cannot be written; the leaf must then not be returned.
   */
  recordIssued(material: CaMaterial, notAfter: number): Promise<void> {
    const fingerprint = material === this.material ? this.fingerprint : material.signingCert.fingerprint256;
    return this.horizon.cover(fingerprint, notAfter);
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

/**
 * Root rotation must know of a leaf (a certificate, or a JWT-SVID of the JWT key that rotates with this CA)
 * before anyone holds it; a store that cannot say so is the CA not being ready, and the leaf is not handed out.
 */
export async function recordIssued(authority: CertificateAuthority, ca: CaMaterial, notAfter: number): Promise<void> {
  try {
    await authority.recordIssued(ca, notAfter);
  } catch (err) {
    throw new MeshidError('ca_not_ready', `cannot record the issued credential in the CA store (${(err as Error).message.split('\n')[0]}); retry`, 503);
  }
}
