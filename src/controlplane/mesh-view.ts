import { randomBytes } from 'node:crypto';
import type { ViewProvider } from '../ca/view-api.js';
import type { Logger } from '../common/log.js';
import type { KubeClients } from '../kube/client.js';
import { startMeshWatch, type MeshWatch } from '../kube/mesh-watch.js';
import { MeshState } from '../mesh/state.js';

export interface MeshViewOptions {
  trustDomain: string;
  rootNamespace: string;
  retryMs: number;
  resyncMs: number;
  log: Logger;
}

export interface MeshView {
  provider: ViewProvider;
  /** Starts watching the cluster; the provider is ready once every resource is listed. */
  start(clients: KubeClients): void;
  stop(): void;
}

/** The cluster's mesh view for agents: a MeshState fed by the watches, with an epoch new on every start. */
export function meshView(o: MeshViewOptions): MeshView {
  const epoch = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const state = new MeshState({ trustDomain: o.trustDomain, rootNamespace: o.rootNamespace, epoch });
  let watch: MeshWatch | undefined;
  return {
    provider: {
      ready: () => watch?.synced() ?? false,
      pod: (ns, name) => state.pod(ns, name),
      update: (ns, name, since) => state.update(ns, name, since),
      onChange: (l) => state.onChange(l),
    },
    start(clients) {
      watch ??= startMeshWatch({ clients, state, log: o.log, retryMs: o.retryMs, resyncMs: o.resyncMs });
    },
    stop() {
      watch?.stop();
    },
  };
}
