/**
 * Where CA material lives: a folder in local mode, a Secret in cluster mode. Both hold the same
 * flat set of named files (Istio's plug-in layout plus rotation state), so one rotation engine
 * drives either. Names are valid Secret keys: no slashes.
 */
export type CaFiles = Readonly<Record<string, string>>;

export interface StoredCaFiles {
  readonly files: CaFiles;
  /** Opaque; changes whenever any file changes. Secret: resourceVersion. Folder: content hash. */
  readonly version: string;
}

export interface CaStore {
  /** The stored set, or null when nothing has been stored yet. */
  read(): Promise<StoredCaFiles | null>;
  /**
   * Replaces the whole set, but only if what is stored is still at `expected` (null: nothing stored yet).
   * Throws StoreConflictError when another writer got there first; the caller re-reads and decides again.
   */
  write(files: CaFiles, expected: string | null): Promise<StoredCaFiles>;
  /** Calls back when the stored set changes (another process or replica wrote it); returns a stop function. */
  watch(onChange: (stored: StoredCaFiles) => void): () => void;
  /** Where it is, for logs and status: a path or namespace/name. */
  describe(): string;
}

/** The error code of a write to a store the operator owns (Istio's cacerts Secret): never retried, never worked around. */
export const STORE_READ_ONLY = 'plugin_ca_read_only';

export class StoreConflictError extends Error {
  constructor(where: string) {
    super(`CA material at ${where} was changed by another writer; re-read and retry`);
    this.name = 'StoreConflictError';
  }
}

/** Istio plug-in layout. root-cert.pem is the trust bundle: every root currently trusted. */
export const PLUGIN_FILES = {
  signingCert: 'ca-cert.pem',
  signingKey: 'ca-key.pem',
  chain: 'cert-chain.pem',
  roots: 'root-cert.pem',
} as const;

/**
 * The JWT-SVID signing keys, stored beside the plug-in files (never in them: an operator's plug-in
 * CA carries no JWT key, and gains one without its own files being touched). ECDSA P-256, PKCS#8.
 */
export const JWT_FILES = {
  signingKey: 'jwt-signing-key.pem',
  /** Staged by a root rotation's prepare: published at once, signs from activate. */
  nextSigningKey: 'next-jwt-signing-key.pem',
  /** The key that signed before activate, public half only: published until retire. */
  previousPublicKey: 'previous-jwt-public-key.pem',
} as const;

export function isPrivateKeyFile(name: string): boolean {
  return name.endsWith('key.pem') && !name.endsWith('public-key.pem');
}
