import { createHash } from 'node:crypto';
import type { Logger } from '../../common/log.js';
import type { SidecarPlan } from '../../policy/plan.js';
import type { VersionedResources, XdsResourceType } from '../xds-stream.js';
import { clusters } from './clusters.js';
import type { ConfigProtos } from './config-protos.js';
import { CLUSTER_TYPE_URL, LISTENER_TYPE_URL } from './config-type-names.js';
import { listeners } from './listeners.js';
import type { PlanSource } from './plan-source.js';

export interface ConfigResourcesOptions {
  plans: PlanSource;
  podIps: readonly string[];
  logger: Logger;
}

/** Every resource of a type is one unit (SotW), named as Envoy subscribes to a wildcard type. */
const WILDCARD = '*';

/**
 * Envoy's listeners and clusters for the current plan, encoded once per plan and versioned by their bytes: a plan
 * that yields the same configuration is no push. A plan that cannot be encoded (a filter Envoy's protos do not
 * know) is logged once and the last good configuration stays.
 */
export class ConfigResources {
  private lds: VersionedResources | null = null;
  private cds: VersionedResources | null = null;
  private lastProblem = '';
  private readonly changeListeners = new Set<() => void>();
  private readonly unsubscribe: () => void;
  private pending: SidecarPlan | null;
  private protos: ConfigProtos | null = null;
  private loading = false;

  constructor(private readonly o: ConfigResourcesOptions) {
    // Built when a stream asks, so an agent whose Envoy never connects never loads the config types.
    this.pending = o.plans.current();
    this.unsubscribe = o.plans.onChange((plan) => {
      this.pending = plan;
      for (const l of this.changeListeners) l();
    });
  }

  readonly listenerType: XdsResourceType = this.typeOf('LDS', LISTENER_TYPE_URL, () => this.built().lds);
  readonly clusterType: XdsResourceType = this.typeOf('CDS', CLUSTER_TYPE_URL, () => this.built().cds);

  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  close(): void {
    this.unsubscribe();
    this.changeListeners.clear();
  }

  private built(): { lds: VersionedResources | null; cds: VersionedResources | null } {
    if (!this.protos) {
      this.load();
      return { lds: null, cds: null };
    }
    if (this.pending) this.build();
    return { lds: this.lds, cds: this.cds };
  }

  /**
   * The config types (~390 of Envoy's messages) are imported when Envoy first asks: an agent without Envoy, and
   * the way to the first SVID, never parse them. Streams get their first response once they are in.
   */
  private load(): void {
    if (this.loading) return;
    this.loading = true;
    import('./config-protos.js').then(
      (m) => {
        this.protos = m.configProtos();
        for (const l of this.changeListeners) l();
      },
      (err: Error) => this.o.logger.error({ problem: err.message }, 'cannot load the Envoy config types; no listeners or clusters are served'),
    );
  }

  private build(): void {
    const plan = this.pending;
    const protos = this.protos;
    if (!plan || !protos) return;
    this.pending = null;
    try {
      const lds = listeners(plan, { ips: this.o.podIps }).map(protos.encodeListener);
      const cds = this.encodeClusters(clusters(plan), protos);
      this.lds = { version: versionOf(lds), resources: lds };
      this.cds = { version: versionOf(cds), resources: cds };
      this.lastProblem = '';
    } catch (err) {
      const problem = (err as Error).message;
      if (problem !== this.lastProblem) this.o.logger.error({ problem }, 'the sidecar plan cannot be turned into Envoy configuration; the last good one stays');
      this.lastProblem = problem;
    }
  }

  /**
   * A cluster's bytes by a digest of its JSON text, from the last generation: in a large mesh a change touches one or two
   * destinations, so the other clusters are not walked and encoded again (and their old bytes are reused).
   */
  private clusterBytes = new Map<string, Buffer>();

  private encodeClusters(list: Array<Record<string, unknown>>, protos: ConfigProtos): Buffer[] {
    const next = new Map<string, Buffer>();
    const out = list.map((c) => {
      const key = createHash('sha1').update(JSON.stringify(c)).digest('base64');
      const bytes = this.clusterBytes.get(key) ?? protos.encodeCluster(c);
      next.set(key, bytes);
      return bytes;
    });
    this.clusterBytes = next;
    return out;
  }

  private typeOf(kind: string, typeUrl: string, get: () => VersionedResources | null): XdsResourceType {
    return {
      kind, typeUrl, maxNames: 16,
      // Envoy subscribes to listeners and clusters as a wildcard (no names, or `*`) and gets every one.
      units: () => [WILDCARD],
      current: get,
      isKnown: (name) => name === WILDCARD,
    };
  }
}

function versionOf(resources: Buffer[]): string {
  const h = createHash('sha256');
  for (const r of resources) h.update(r);
  return h.digest('hex').slice(0, 16);
}
