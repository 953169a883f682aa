import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadEnvoyProtos } from '../../src/agent/envoy-protos.js';
import { clusters } from '../../src/agent/xds/clusters.js';
import { listeners } from '../../src/agent/xds/listeners.js';
import { planSidecar } from '../../src/policy/plan-sidecar.js';
import { CLUSTER_TYPE, ENVOY_CONFIG_PROTOS, LISTENER_TYPE, resourceProblems } from '../helpers/envoy-config-check.js';
import { exampleObjects, spiffe, validated, viewFor } from './support.js';

const defs = loadEnvoyProtos(ENVOY_CONFIG_PROTOS);
type Json = Record<string, any>;

// The policy side's real plan fed to the xDS side's real listeners: what Envoy would get for each bookinfo pod.
test('the bookinfo policies as Envoy gets them: every listener and cluster passes Envoy\'s protos, STRICT leaves no plaintext chain, HTTP RBAC sits before the router', () => {
  for (const service of ['productpage', 'details', 'reviews', 'ratings']) {
    const view = viewFor({ name: `${service}-v1-0`, serviceAccount: `bookinfo-${service}`, labels: { app: service, version: 'v1' } }, validated(exampleObjects()), [{ port: 9080, http: true }]);
    view.destinations = [{ address: '10.96.0.20', port: 9080, identities: [spiffe('default', 'bookinfo-details')] }];
    const plan = planSidecar(view);
    const lds = listeners(plan, { ips: ['10.1.0.5', 'fd00::5'] }) as Json[];
    const cds = clusters(plan) as Json[];
    for (const r of lds) assert.deepEqual(resourceProblems(defs, LISTENER_TYPE, r, r.name), [], `${service}: ${r.name}`);
    for (const r of cds) assert.deepEqual(resourceProblems(defs, CLUSTER_TYPE, r, r.name), [], `${service}: ${r.name}`);

    const inbound = lds.find((l) => (l.filter_chains as Json[]).some((c) => String(c.name).startsWith('inbound')))!;
    const chains = inbound.filter_chains as Json[];
    assert.ok(chains.every((c) => !String(c.name).includes('passthrough')), `${service}: STRICT mesh-wide, no plaintext chain: ${chains.map((c) => c.name).join(', ')}`);
    const http = chains.flatMap((c) => (c.filters as Json[]).filter((f) => f.name.endsWith('http_connection_manager')));
    assert.ok(http.length > 0, `${service}: the HTTP port gets an HTTP connection manager`);
    for (const hcm of http) {
      const names = (hcm.typed_config.http_filters as Json[]).map((f) => f.name);
      assert.ok(names.includes('envoy.filters.http.rbac') && names.indexOf('envoy.filters.http.rbac') < names.indexOf('envoy.filters.http.router'), `${service}: ${names.join(' > ')}`);
    }
  }
});
