import type { CoreV1Api, V1Secret, Watch } from '@kubernetes/client-node';
import { type CaFiles, type CaStore, type StoredCaFiles, STORE_READ_ONLY, StoreConflictError } from '../ca/store.js';
import { MeshidError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { silentLogger } from '../common/log.js';
import { apiStatus, describeApiError, isConflict, isNotFound } from './api-errors.js';
import { MANAGED_BY_LABELS } from './labels.js';
import { startWatchLoop } from './watch-loop.js';

export const CA_SECRET_NAME = 'meshid-ca';
/** Istio's name for an operator-supplied (plug-in) CA. */
export const PLUGIN_SECRET_NAME = 'cacerts';

export interface SecretCaStoreOptions {
  core: CoreV1Api;
  watch: Watch;
  namespace: string;
  secretName?: string;
  pluginSecretName?: string;
  watchRetryMs?: number;
  log?: Logger;
}

/**
 * CA material in a Secret of the control plane namespace. An operator-supplied `cacerts` Secret, when
 * present, is what is read and it is never written: the operator owns it and rotates it by replacing it.
 * Versions name the Secret they come from, so switching source counts as a change.
 */
export class SecretCaStore implements CaStore {
  private readonly core: CoreV1Api;
  private readonly watcher: Watch;
  private readonly namespace: string;
  private readonly name: string;
  private readonly pluginName: string;
  private readonly retryMs: number;
  private readonly log: Logger;
  /** The version this instance last read or wrote: what a watch started now takes as already known. */
  private known: string | null = null;
  /** The version this instance last wrote: never reported as a change. */
  private written: string | null = null;

  constructor(opts: SecretCaStoreOptions) {
    this.core = opts.core;
    this.watcher = opts.watch;
    this.namespace = opts.namespace;
    this.name = opts.secretName ?? CA_SECRET_NAME;
    this.pluginName = opts.pluginSecretName ?? PLUGIN_SECRET_NAME;
    this.retryMs = opts.watchRetryMs ?? 2000;
    this.log = opts.log ?? silentLogger;
  }

  describe(): string {
    return `secret ${this.namespace}/${this.name} (plug-in CA: ${this.namespace}/${this.pluginName})`;
  }

  async read(): Promise<StoredCaFiles | null> {
    const stored = (await this.get(this.pluginName)) ?? (await this.get(this.name));
    if (stored) this.known = stored.version;
    return stored;
  }

  async write(files: CaFiles, expected: string | null): Promise<StoredCaFiles> {
    if (await this.get(this.pluginName)) {
      throw new MeshidError(STORE_READ_ONLY, `CA material comes from the operator-supplied Secret ${this.namespace}/${this.pluginName}; replace that Secret to change it`, 409);
    }
    const body = this.secretBody(files, expected);
    let written: V1Secret;
    try {
      written = expected === null
        ? await this.core.createNamespacedSecret({ namespace: this.namespace, body })
        : await this.core.replaceNamespacedSecret({ namespace: this.namespace, name: this.name, body });
    } catch (err) {
      // 409: AlreadyExists on create or a stale resourceVersion; 404: deleted since it was read. Either way another writer acted.
      if (isConflict(err) || (expected !== null && isNotFound(err))) throw new StoreConflictError(this.describe());
      throw this.failure('write', err);
    }
    const stored = this.toStored(this.name, written);
    this.known = stored.version;
    this.written = stored.version;
    return stored;
  }

  /**
   * Reports the stored set whenever it differs from what this watch last reported (at first: what this
   * instance had read or written), except this instance's own writes. Reads after the watch started do
   * not count: the rotation driver reads the same store every tick, and must not swallow a change that
   * the authority, watching, has to reload.
   */
  watch(onChange: (stored: StoredCaFiles) => void): () => void {
    let reported = this.known;
    let checking = Promise.resolve();
    const check = (): void => {
      checking = checking.then(async () => {
        const stored = await this.get(this.pluginName).then((p) => p ?? this.get(this.name));
        if (!stored || stored.version === reported) return;
        reported = stored.version;
        if (stored.version === this.written) return;
        onChange(stored);
      }).catch((err) => this.log.warn({ store: this.describe(), err: (err as Error).message }, 'could not reload CA material'));
    };
    const stops = [this.name, this.pluginName].map((name) => startWatchLoop({
      watch: this.watcher,
      path: `/api/v1/namespaces/${this.namespace}/secrets`,
      query: { fieldSelector: `metadata.name=${name}` },
      onConnect: check,
      onEvent: check,
      retryMs: this.retryMs,
      log: this.log,
    }));
    return () => stops.forEach((stop) => stop());
  }

  private async get(name: string): Promise<StoredCaFiles | null> {
    try {
      return this.toStored(name, await this.core.readNamespacedSecret({ namespace: this.namespace, name }));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.failure(`read ${name}`, err);
    }
  }

  private toStored(name: string, secret: V1Secret): StoredCaFiles {
    const files: Record<string, string> = {};
    for (const [key, value] of Object.entries(secret.data ?? {})) files[key] = Buffer.from(value, 'base64').toString('utf8');
    return { files, version: `${name}@${secret.metadata?.resourceVersion ?? ''}` };
  }

  private secretBody(files: CaFiles, expected: string | null): V1Secret {
    const data: Record<string, string> = {};
    for (const [key, value] of Object.entries(files)) data[key] = Buffer.from(value, 'utf8').toString('base64');
    const resourceVersion = expected === null ? undefined : this.resourceVersionOf(expected);
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: { name: this.name, namespace: this.namespace, labels: { ...MANAGED_BY_LABELS }, resourceVersion },
      data,
    };
  }

  private resourceVersionOf(version: string): string {
    const prefix = `${this.name}@`;
    // A version from another source (the plug-in Secret, since removed) cannot be current here.
    if (!version.startsWith(prefix)) throw new StoreConflictError(this.describe());
    return version.slice(prefix.length);
  }

  private failure(what: string, err: unknown): MeshidError {
    const status = apiStatus(err);
    const hint = status === 403 ? ' (check the meshid Role grants secrets access in this namespace)' : '';
    return new MeshidError('ca_store_unavailable', `cannot ${what} CA Secret in ${this.namespace}: ${describeApiError(err)}${hint}`, 503);
  }
}
