import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ControlPlane } from '../../src/controlplane/start.js';
import { startAgent } from '../../src/agent/agent.js';
import { clusters } from '../../src/agent/xds/clusters.js';
import { listeners } from '../../src/agent/xds/listeners.js';
import { defaultPlan, SettablePlanSource } from '../../src/agent/xds/plan-source.js';
import type { ViewSource, WorkloadView } from '../../src/mesh/view.js';
import type { DiscoveryResponse } from '../../src/agent/sds-protos.js';
import { CLUSTER_TYPE, LISTENER_TYPE } from '../helpers/envoy-config-check.js';
import { decodeToJson, withoutDefaults } from '../helpers/envoy-roundtrip.js';
import { agentConfig, captureLogger, startCa } from './helpers.js';
import { CDS, envoyDefs, LDS, xdsClient } from './xds-client.js';
import { allowOnly, API, DESTINATIONS, plan, port, TD, WEB } from './xds-plans.js';

type Json = Record<string, any>;
const POD_IPS = ['10.1.2.3', 'fd00:10::3'];

let cp: ControlPlane;
before(async () => {
  cp = await startCa();
});
after(async () => {
  await cp.close();
});

function decoded(res: DiscoveryResponse, type: string): Json[] {
  return res.resources.map((r) => {
    assert.equal(r.type_url, `type.googleapis.com/${type}`);
    return withoutDefaults(envoyDefs, type, decodeToJson(envoyDefs, type, r.value));
  });
}
const meant = (type: string, resources: Array<Record<string, unknown>>) => resources.map((r) => withoutDefaults(envoyDefs, type, r));
const chainsByName = (l: Json) => new Map<string, string>((l.filter_chains as Json[]).map((c) => [c.name, JSON.stringify(c)]));

/** The agent's view source as the control plane client feeds it; here the test does. */
class TestViews implements ViewSource {
  private view: WorkloadView | null = null;
  private readonly listeners = new Set<(v: WorkloadView) => void>();
  current() { return this.view; }
  onChange(l: (v: WorkloadView) => void) { this.listeners.add(l); return () => this.listeners.delete(l); }
  set(view: WorkloadView) { this.view = view; for (const l of this.listeners) l(view); }
}

function view(version: string, destinations: WorkloadView['destinations']): WorkloadView {
  return {
    version, trustDomain: TD, rootNamespace: 'meshid-system',
    pod: { namespace: 'shop', name: 'web-1', serviceAccount: 'web', labels: {}, ips: POD_IPS },
    inboundPorts: [], peerAuthentications: [], authorizationPolicies: [], destinations,
  };
}

test('LDS and CDS from Envoy\'s protos: resources decode to the plan\'s listeners and clusters; ACK unanswered; a view change arrives within 2 s with unaffected chains identical', async (t) => {
  const log = captureLogger();
  const views = new TestViews();
  const agent = await startAgent({ ...(await agentConfig(cp)), podIps: POD_IPS }, { logger: log.logger, views });
  const [lds, cds] = [xdsClient(agent.sds.socketPath, LDS), xdsClient(agent.sds.socketPath, CDS)];
  try {
    const c = cds.stream();
    c.send({ node: { id: `sidecar~${WEB}`, cluster: 'web.shop' }, resource_names: [] });
    const l = lds.stream();
    l.send({ node: { id: `sidecar~${WEB}`, cluster: 'web.shop' }, resource_names: [] });
    const [c1, l1] = [await c.next(), await l.next()];
    const first = defaultPlan(TD, null);
    assert.deepEqual(decoded(l1, LISTENER_TYPE), meant(LISTENER_TYPE, listeners(first, { ips: POD_IPS })), 'no view yet: the default plan (PERMISSIVE, nothing meshed)');
    assert.deepEqual(decoded(c1, CLUSTER_TYPE), meant(CLUSTER_TYPE, clusters(first)));
    assert.deepEqual(decoded(l1, LISTENER_TYPE).map((x) => x.name), ['virtualOutbound', 'virtualInbound']);
    assert.ok(l1.version_info && l1.nonce && c1.version_info && c1.nonce);

    l.send({ version_info: l1.version_info, response_nonce: l1.nonce });
    c.send({ version_info: c1.version_info, response_nonce: c1.nonce });
    await Promise.all([l.silence(300), c.silence(300)]);

    const changedAt = performance.now();
    views.set(view('1:1', DESTINATIONS));
    const [c2, l2] = [await c.next(2000), await l.next(2000)];
    const took = performance.now() - changedAt;
    assert.ok(took < 2000, `the view change reached LDS and CDS in ${took.toFixed(0)} ms`);
    const second = defaultPlan(TD, views.current());
    assert.deepEqual(decoded(l2, LISTENER_TYPE), meant(LISTENER_TYPE, listeners(second, { ips: POD_IPS })));
    assert.deepEqual(decoded(c2, CLUSTER_TYPE).map((x) => x.name).sort(), clusters(second).map((x) => String(x.name)).sort());
    assert.notEqual(l2.version_info, l1.version_info);
    l.send({ version_info: l2.version_info, response_nonce: l2.nonce });
    c.send({ version_info: c2.version_info, response_nonce: c2.nonce });

    views.set(view('1:2', [...DESTINATIONS.slice(1), { address: '10.0.0.8', port: null, identities: [API] }]));
    const l3 = await l.next(2000);
    const [before, after] = [chainsByName(decoded(l2, LISTENER_TYPE)[0]!), chainsByName(decoded(l3, LISTENER_TYPE)[0]!)];
    const differ = [...new Set([...before.keys(), ...after.keys()])].filter((k) => before.get(k) !== after.get(k)).sort();
    assert.deepEqual(differ, ['outbound|10.0.0.7', 'outbound|10.0.0.8'], 'only the removed and the added destination\'s chains differ');
    assert.equal(JSON.stringify(decoded(l3, LISTENER_TYPE)[1]), JSON.stringify(decoded(l2, LISTENER_TYPE)[1]), 'the inbound listener is unchanged');
    t.diagnostic(`view change to LDS+CDS responses: ${took.toFixed(0)} ms`);

    views.set(view('1:3', views.current()!.destinations));
    await c.next(2000);
    await assert.rejects(l.next(300), /no StreamListeners response/, 'a view that yields the same listeners is no LDS push');
  } finally {
    lds.close();
    cds.close();
    await agent.stop();
  }
});

test('a NACK is logged once with Envoy\'s error_detail and not answered: the proxy keeps what it last ACKed, and the next plan is pushed', async () => {
  const log = captureLogger();
  const plans = new SettablePlanSource(defaultPlan(TD, null));
  const agent = await startAgent(await agentConfig(cp), { logger: log.logger, plans });
  const lds = xdsClient(agent.sds.socketPath, LDS);
  try {
    const l = lds.stream();
    l.send({ node: { id: `sidecar~${WEB}` } });
    const r1 = await l.next();
    l.send({ version_info: r1.version_info, response_nonce: r1.nonce });
    plans.set(plan([port(8080, 'STRICT'), port(null, 'PERMISSIVE', { networkRbac: [allowOnly(API)] })]));
    const r2 = await l.next(2000);
    l.send({ version_info: r1.version_info, response_nonce: r2.nonce, error_detail: { code: 3, message: 'Error adding/updating listener(s) virtualInbound: test says no' } });
    await l.silence(300);
    const nacks = log.lines().filter((x) => String(x.msg).startsWith('proxy rejected (NACK)'));
    assert.equal(nacks.length, 1);
    assert.equal(nacks[0]!.msg, 'proxy rejected (NACK) the LDS response');
    assert.equal(nacks[0]!.error, 'Error adding/updating listener(s) virtualInbound: test says no');
    assert.equal(nacks[0]!.version, r1.version_info, 'Envoy reports the version it keeps');
    assert.equal(agent.metrics.configNacks.values.get('LDS'), 1);

    // A late NACK of an older nonce is stale and ignored.
    l.send({ version_info: r1.version_info, response_nonce: r1.nonce, error_detail: { message: 'stale' } });
    await l.silence(200);
    assert.equal(agent.metrics.configNacks.values.get('LDS'), 1);

    plans.set(plan([port(null, 'STRICT')]));
    const r3 = await l.next(2000);
    assert.notEqual(r3.version_info, r2.version_info);
    const inbound = decoded(r3, LISTENER_TYPE)[1]!;
    assert.deepEqual(inbound.filter_chains.map((c: Json) => c.name), ['inbound|any|mtls']);

    // A reconnecting Envoy names the version it holds; it gets the current one.
    const again = lds.stream();
    again.send({ node: { id: `sidecar~${WEB}` }, version_info: r1.version_info });
    assert.equal((await again.next()).version_info, r3.version_info);
  } finally {
    lds.close();
    await agent.stop();
  }
});

test('an LDS request for another type, or a filter the protos do not know in the plan: a clear status, or one log line and the last good listeners', async () => {
  const log = captureLogger();
  const plans = new SettablePlanSource(defaultPlan(TD, null));
  const agent = await startAgent(await agentConfig(cp), { logger: log.logger, plans });
  const lds = xdsClient(agent.sds.socketPath, LDS);
  try {
    const wrong = lds.stream();
    wrong.send({ type_url: CDS.typeUrl });
    const status = await wrong.status;
    assert.equal(status.details, `type_url must be ${LDS.typeUrl}, got "${CDS.typeUrl}"`);

    const l = lds.stream();
    l.send({});
    const good = await l.next();
    l.send({ version_info: good.version_info, response_nonce: good.nonce });
    const bad = plan([port(null, 'PERMISSIVE', { networkRbac: [{ name: 'x', typed_config: { '@type': 'type.googleapis.com/envoy.nope.v3.Filter' } }] })]);
    plans.set(bad);
    plans.set(bad);
    await l.silence(300);
    const problems = log.lines().filter((x) => x.msg === 'the sidecar plan cannot be turned into Envoy configuration; the last good one stays');
    assert.equal(problems.length, 1, 'logged once');
    assert.match(String(problems[0]!.problem), /@type envoy\.nope\.v3\.Filter is not a message the agent knows/);
    const fresh = lds.stream();
    fresh.send({});
    assert.equal((await fresh.next()).version_info, good.version_info, 'the last good listeners are still served');
  } finally {
    lds.close();
    await agent.stop();
  }
});
