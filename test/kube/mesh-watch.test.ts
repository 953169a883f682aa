import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createKubeClients } from '../../src/kube/client.js';
import { startMeshWatch, type MeshWatch } from '../../src/kube/mesh-watch.js';
import { MeshState } from '../../src/mesh/state.js';
import { captureLogger } from '../agent/helpers.js';
import { FakeKube } from '../helpers/fake-kube.js';
import { podObject, policyObject, serviceObject, sliceObject } from '../helpers/mesh-objects.js';
import { waitFor } from '../helpers/wait.js';

const id = (ns: string, sa: string) => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;

describe('watching the mesh through the API (fake API server over real HTTP)', () => {
  let fake: FakeKube;
  let state: MeshState;
  let watch: MeshWatch;
  let log: ReturnType<typeof captureLogger>;
  const dest = (key: string) => state.destinations().find((d) => (d.port === null ? d.address : `${d.address}:${d.port}`) === key);
  const lists = (resource: string) => fake.calls.filter((c) => c.verb === 'list' && c.resource === resource).length;

  beforeEach(async () => {
    fake = await FakeKube.start();
    fake.put('pods', podObject('shop', 'web-1', { sa: 'web', ips: ['10.0.0.1', 'fd00::1'], labels: { app: 'web' } }) as never);
    fake.put('services', serviceObject('shop', 'web', { clusterIPs: ['10.96.0.10'], selector: { app: 'web' } }) as never);
    fake.put('endpointslices', sliceObject('shop', 'web', [{ pod: 'web-1', ip: '10.0.0.1' }]) as never);
    fake.put('peerauthentications', policyObject('PeerAuthentication', 'meshid-system', 'mesh', { mtls: { mode: 'STRICT' } }) as never);
    state = new MeshState({ trustDomain: 'cluster.local', rootNamespace: 'meshid-system', epoch: 'e' });
    log = captureLogger();
    watch = startMeshWatch({ clients: createKubeClients(fake.kubeConfig()), state, log: log.logger, retryMs: 20, resyncMs: 600_000 });
    await waitFor(() => watch.synced(), { what: 'every resource listed' });
  });
  afterEach(async () => {
    watch.stop();
    await fake.close();
  });

  it('lists pods (IPv6 too), Services, EndpointSlices and the policy CRDs once, then follows their watches', async () => {
    assert.deepEqual(dest('10.0.0.1')?.identities, [id('shop', 'web')]);
    assert.deepEqual(dest('fd00::1')?.identities, [id('shop', 'web')]);
    assert.deepEqual(dest('10.96.0.10:80')?.identities, [id('shop', 'web')]);
    assert.equal(state.policy('PeerAuthentication', 'meshid-system', 'mesh')?.spec.mtls?.mode, 'STRICT');

    fake.put('pods', podObject('shop', 'plain', { ips: ['10.0.0.9'], injected: false }) as never);
    fake.put('endpointslices', sliceObject('shop', 'web', [{ pod: 'web-1', ip: '10.0.0.1' }, { pod: 'plain', ip: '10.0.0.9' }]) as never);
    await waitFor(() => !dest('10.96.0.10:80'), { what: 'the Service with a plain endpoint to stop counting as meshed' });
    fake.put('pods', podObject('shop', 'web-2', { sa: 'web', ips: ['10.0.0.2'] }) as never);
    await waitFor(() => dest('10.0.0.2') !== undefined, { what: 'the new pod' });
    fake.remove('pods', 'shop', 'web-2');
    await waitFor(() => !dest('10.0.0.2'), { what: 'the deleted pod to go' });
    for (const r of ['pods', 'services', 'endpointslices', 'peerauthentications', 'authorizationpolicies']) assert.equal(lists(r), 1, `${r}: one list, then only watch events`);
  });

  it('a dropped watch resumes from its resourceVersion: changes made meanwhile arrive, no relist', async () => {
    fake.dropWatches();
    fake.put('pods', podObject('shop', 'web-3', { sa: 'web', ips: ['10.0.0.3'] }) as never);
    await waitFor(() => dest('10.0.0.3') !== undefined, { what: 'the change made while disconnected' });
    assert.equal(lists('pods'), 1);
    const resumed = fake.calls.filter((c) => c.verb === 'watch' && c.resource === 'pods').length;
    assert.ok(resumed >= 2, 'watched again');
  });

  it('a resourceVersion too old (410 Gone) relists, and a deletion missed meanwhile is seen', async () => {
    fake.historyLimit = 1;
    fake.dropWatches();
    fake.remove('pods', 'shop', 'web-1');
    for (let i = 0; i < 3; i++) fake.put('configmaps', { metadata: { name: `c${i}`, namespace: 'shop' } });
    await waitFor(() => lists('pods') === 2 && !dest('10.0.0.1'), { what: 'a relist that finds the pod gone' });
  });

  it('policy CRDs not installed: one warning each, the view is still whole (no policies)', async () => {
    watch.stop();
    fake.missing.add('peerauthentications');
    fake.missing.add('authorizationpolicies');
    const quiet = captureLogger();
    const fresh = new MeshState({ trustDomain: 'cluster.local', rootNamespace: 'meshid-system', epoch: 'f' });
    watch = startMeshWatch({ clients: createKubeClients(fake.kubeConfig()), state: fresh, log: quiet.logger, retryMs: 20, resyncMs: 600_000 });
    await waitFor(() => watch.synced(), { what: 'synced without the CRDs' });
    assert.ok(fresh.destinations().some((d) => d.address === '10.0.0.1'));
    assert.equal(fresh.policy('PeerAuthentication', 'meshid-system', 'mesh'), undefined);
    await new Promise((r) => setTimeout(r, 200));
    const warnings = quiet.lines().filter((l) => l.level === 40).map((l) => String(l.msg));
    assert.deepEqual(warnings.sort(), [
      'the API has no authorizationpolicies (is its CustomResourceDefinition installed?); none are in force until it does',
      'the API has no peerauthentications (is its CustomResourceDefinition installed?); none are in force until it does',
    ]);
  });

  it('a hostile policy object is logged once and ignored; the last good version stays', async () => {
    fake.put('authorizationpolicies', policyObject('AuthorizationPolicy', 'shop', 'allow-web', { action: 'ALLOW', rules: [{ from: [{ source: { namespaces: ['shop'] } }] }] }) as never);
    await waitFor(() => state.policy('AuthorizationPolicy', 'shop', 'allow-web') !== undefined, { what: 'the good policy' });
    const good = state.policy('AuthorizationPolicy', 'shop', 'allow-web');
    const hostile = [
      { rules: Array.from({ length: 10_000 }, () => ({ to: [{ operation: { methods: ['GET'] } }] })) },
      { action: 'ALLOW', rules: 'everyone' },
    ];
    for (const spec of hostile) fake.put('authorizationpolicies', policyObject('AuthorizationPolicy', 'shop', 'allow-web', spec) as never);
    fake.put('peerauthentications', policyObject('PeerAuthentication', 'meshid-system', 'mesh', { mtls: { mode: 'MAYBE' } }) as never);
    fake.put('peerauthentications', { ...policyObject('PeerAuthentication', 'meshid-system', 'mesh', { mtls: { mode: 'MAYBE' } }), extra: 1 } as never);
    // Each watch delivers in order: a good object put after the hostile ones on the same resource proves they were handled.
    fake.put('authorizationpolicies', policyObject('AuthorizationPolicy', 'shop', 'marker', {}) as never);
    fake.put('peerauthentications', policyObject('PeerAuthentication', 'shop', 'marker', {}) as never);
    await waitFor(() => state.policy('AuthorizationPolicy', 'shop', 'marker') !== undefined && state.policy('PeerAuthentication', 'shop', 'marker') !== undefined,
      { what: 'the objects put after the hostile ones' });
    assert.deepEqual(state.policy('AuthorizationPolicy', 'shop', 'allow-web'), good, 'the last good AuthorizationPolicy stays');
    assert.equal(state.policy('PeerAuthentication', 'meshid-system', 'mesh')?.spec.mtls?.mode, 'STRICT', 'the last good PeerAuthentication stays');
    const warnings = log.lines().filter((l) => l.level === 40).map((l) => String(l.msg));
    assert.equal(warnings.filter((m) => m.includes('AuthorizationPolicy shop/allow-web')).length, 2, `one line per problem:\n${warnings.join('\n')}`);
    assert.match(warnings.find((m) => m.includes('bytes of JSON'))!, /AuthorizationPolicy shop\/allow-web ignored: spec: is \d+ bytes of JSON; at most 65536 are allowed/);
    assert.equal(warnings.filter((m) => m.includes('PeerAuthentication meshid-system/mesh')).length, 1, 'the same problem twice is logged once');
    assert.match(warnings.find((m) => m.includes('PeerAuthentication'))!, /spec\.mtls\.mode: "MAYBE" is not one of UNSET, DISABLE, PERMISSIVE, STRICT/);
  });
});
