import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { podFromObject, serviceFromObject, sliceFromObject } from '../../src/mesh/convert.js';
import { validatePolicyObject } from '../../src/policy/validate.js';
import { MeshState } from '../../src/mesh/state.js';
import { revisionOf } from '../../src/mesh/version.js';
import { applyViewUpdate, type ViewUpdate, type WorkloadView } from '../../src/mesh/view.js';
import { podObject, policyObject, serviceObject, sliceObject } from '../helpers/mesh-objects.js';

const id = (ns: string, sa: string) => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;

function mesh(logLimit?: number): MeshState {
  const s = new MeshState({ trustDomain: 'cluster.local', rootNamespace: 'meshid-system', epoch: 'e1', logLimit });
  s.upsertPod(podFromObject(podObject('shop', 'web-1', { sa: 'web', ips: ['10.0.0.1', 'fd00::1'], labels: { app: 'web' } }))!);
  s.upsertPod(podFromObject(podObject('shop', 'cart-1', { sa: 'cart', ips: ['10.0.0.2'], labels: { app: 'cart' } }))!);
  s.upsertPod(podFromObject(podObject('blog', 'post-1', { sa: 'post', ips: ['10.0.1.1'], labels: { app: 'post' } }))!);
  s.upsertService(serviceFromObject(serviceObject('shop', 'web', { clusterIPs: ['10.96.0.10'], selector: { app: 'web' } }))!);
  s.upsertSlice(sliceFromObject(sliceObject('shop', 'web', [{ pod: 'web-1', ip: '10.0.0.1' }]))!);
  return s;
}

function policy(kind: 'PeerAuthentication' | 'AuthorizationPolicy', ns: string, name: string, spec: Record<string, unknown>) {
  const checked = validatePolicyObject(policyObject(kind, ns, name, spec));
  assert.ok(checked.ok, checked.ok ? '' : checked.errors.join('; '));
  return checked.policy.object;
}

function viewOf(s: MeshState, ns: string, name: string): WorkloadView {
  return applyViewUpdate(null, s.update(ns, name, undefined)!);
}

describe('the per-agent view and its deltas', () => {
  it('a full view: the pod, its inbound ports, its policies and every meshed destination', () => {
    const s = mesh();
    s.upsertPolicy('PeerAuthentication', policy('PeerAuthentication', 'meshid-system', 'mesh', { mtls: { mode: 'STRICT' } }));
    s.upsertPolicy('AuthorizationPolicy', policy('AuthorizationPolicy', 'blog', 'deny', {}));
    const v = viewOf(s, 'shop', 'cart-1');
    assert.equal(v.version, `e1:${s.revision}`);
    assert.deepEqual(v.pod, { namespace: 'shop', name: 'cart-1', serviceAccount: 'cart', labels: { app: 'cart' }, ips: ['10.0.0.2'] });
    assert.deepEqual(v.inboundPorts, []);
    assert.deepEqual(v.peerAuthentications.map((p) => p.name), ['mesh'], 'mesh-wide applies');
    assert.deepEqual(v.authorizationPolicies, [], 'another namespace\'s does not');
    assert.deepEqual(v.destinations.map((d) => [d.address, d.port, d.identities]), [
      ['10.0.0.1', null, [id('shop', 'web')]], ['10.0.0.2', null, [id('shop', 'cart')]], ['10.0.1.1', null, [id('blog', 'post')]],
      ['10.96.0.10', 80, [id('shop', 'web')]], ['fd00::1', null, [id('shop', 'web')]],
    ]);
    assert.deepEqual(viewOf(s, 'shop', 'web-1').inboundPorts, [{ port: 8080, http: true }]);
  });

  const cases: Array<{ name: string; change(s: MeshState): void; want: Partial<ViewUpdate> | null }> = [
    {
      name: 'a pod starting elsewhere: one upsert, nothing else',
      change: (s) => s.upsertPod(podFromObject(podObject('blog', 'post-2', { sa: 'post', ips: ['10.0.1.2'] }))!),
      want: { upserts: [{ address: '10.0.1.2', port: null, identities: [id('blog', 'post')] }], removes: [] },
    },
    {
      name: 'a plain pod starting: nothing for anyone',
      change: (s) => s.upsertPod(podFromObject(podObject('blog', 'plain', { ips: ['10.0.1.9'], injected: false }))!),
      want: null,
    },
    {
      name: 'an IP reused by a plain pod stops counting at once',
      change: (s) => s.upsertPod(podFromObject(podObject('blog', 'plain', { ips: ['10.0.0.1'], injected: false, phase: 'Pending' }))!),
      want: { upserts: [], removes: ['10.0.0.1'] },
    },
    {
      name: 'a pod deleted: its IPs and the Service port it alone backed are removed',
      change: (s) => s.deletePod('shop', 'web-1'),
      want: { upserts: [], removes: ['10.0.0.1', 'fd00::1', '10.96.0.10:80'] },
    },
    {
      name: 'a plain endpoint joins the Service: the Service port is removed',
      change: (s) => {
        s.upsertPod(podFromObject(podObject('shop', 'web-plain', { ips: ['10.0.0.5'], injected: false }))!);
        s.upsertSlice(sliceFromObject(sliceObject('shop', 'web', [{ pod: 'web-1', ip: '10.0.0.1' }, { pod: 'web-plain', ip: '10.0.0.5' }]))!);
      },
      want: { upserts: [], removes: ['10.96.0.10:80'] },
    },
    {
      name: 'a policy of its namespace: the policy field, no destinations',
      change: (s) => s.upsertPolicy('AuthorizationPolicy', policy('AuthorizationPolicy', 'shop', 'allow-nothing', {})),
      want: { authorizationPolicies: [{ namespace: 'shop', name: 'allow-nothing', spec: {} }], upserts: [], removes: [] },
    },
    {
      name: 'a policy selecting another workload: nothing',
      change: (s) => s.upsertPolicy('AuthorizationPolicy', policy('AuthorizationPolicy', 'shop', 'web-only', { selector: { matchLabels: { app: 'web' } } })),
      want: null,
    },
    {
      name: 'a Service selecting it: its inbound ports',
      change: (s) => s.upsertService(serviceFromObject(serviceObject('shop', 'cart', { selector: { app: 'cart' }, ports: [{ name: 'grpc', port: 90, targetPort: 9090 }] }))!),
      want: { inboundPorts: [{ port: 9090, http: false }], upserts: [], removes: [] },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = mesh();
      const before = viewOf(s, 'shop', 'cart-1');
      c.change(s);
      const delta = s.update('shop', 'cart-1', before.version);
      if (c.want === null) return assert.equal(delta, null);
      assert.ok(delta && !delta.full, 'a delta');
      assert.deepEqual({ ...delta, version: undefined, full: undefined }, { ...c.want, version: undefined, full: undefined });
      assert.deepEqual(applyViewUpdate(before, delta), viewOf(s, 'shop', 'cart-1'), 'the delta brings the view to the full one');
    });
  }

  it('several changes since a version are one delta; the current state of each key', () => {
    const s = mesh();
    const before = viewOf(s, 'shop', 'cart-1');
    s.deletePod('blog', 'post-1');
    s.upsertPod(podFromObject(podObject('blog', 'post-1', { sa: 'post', ips: ['10.0.1.1'], uid: 'new' }))!);
    s.upsertPod(podFromObject(podObject('blog', 'post-2', { sa: 'post', ips: ['10.0.1.2'] }))!);
    const delta = s.update('shop', 'cart-1', before.version)!;
    assert.deepEqual(delta.upserts.map((d) => d.address).sort(), ['10.0.1.1', '10.0.1.2']);
    assert.deepEqual(applyViewUpdate(before, delta), viewOf(s, 'shop', 'cart-1'));
  });

  it('a full view when the version is of another epoch, from the future, too old for the log, or absent', () => {
    const s = mesh(2);
    for (let i = 0; i < 10; i++) s.upsertPod(podFromObject(podObject('blog', `p${i}`, { ips: [`10.0.2.${i}`] }))!);
    for (const since of [undefined, 'other:3', `e1:${s.revision + 5}`, 'e1:1', 'e1:x', 'garbage']) {
      assert.equal(s.update('shop', 'cart-1', since)?.full, true, `since ${since}`);
    }
    assert.equal(s.update('shop', 'cart-1', s.version), null, 'up to date: nothing');
    assert.equal(s.update('shop', 'nobody', undefined), undefined, 'an unknown pod has no view');
  });

  it('a pod recreated under the same name is a new agent: its pod field comes again', () => {
    const s = mesh();
    const before = viewOf(s, 'shop', 'cart-1');
    s.upsertPod(podFromObject(podObject('shop', 'cart-1', { sa: 'cart', ips: ['10.0.0.2'], uid: 'second', labels: { app: 'cart' } }))!);
    assert.deepEqual(s.update('shop', 'cart-1', before.version)?.pod?.name, 'cart-1');
  });

  it('versions are <epoch>:<revision>', () => {
    assert.equal(revisionOf('e1:42', 'e1'), 42);
    assert.equal(revisionOf('e2:42', 'e1'), undefined);
    assert.equal(revisionOf('e1:', 'e1'), undefined);
  });
});
