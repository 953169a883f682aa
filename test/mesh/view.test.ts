import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { appliesTo } from '../../src/mesh/select.js';
import { applyViewUpdate, destinationKey, ViewUpdateError, type ViewUpdate } from '../../src/mesh/view.js';

const pod = { namespace: 'default', name: 'details-1', serviceAccount: 'bookinfo-details', labels: { app: 'details' }, ips: ['10.0.0.7'] };
const full: ViewUpdate = {
  version: 'e1:1', full: true, trustDomain: 'cluster.local', rootNamespace: 'meshid-system', pod, upserts: [
    { address: '10.0.0.9', port: null, identities: ['spiffe://cluster.local/ns/default/sa/a'] },
    { address: '10.96.0.10', port: 80, identities: ['spiffe://cluster.local/ns/default/sa/a'] },
  ], removes: [],
};

describe('workload view updates', () => {
  it('keys pod IPs alone, Service ports with their port, IPv6 in brackets', () => {
    assert.equal(destinationKey({ address: '10.0.0.9', port: null }), '10.0.0.9');
    assert.equal(destinationKey({ address: '10.96.0.10', port: 80 }), '10.96.0.10:80');
    assert.equal(destinationKey({ address: 'fd00::1', port: 80 }), '[fd00::1]:80');
  });

  it('a delta changes one destination and keeps the rest of the view', () => {
    const view = applyViewUpdate(null, full);
    const next = applyViewUpdate(view, { version: 'e1:2', full: false, upserts: [{ address: '10.0.0.11', port: null, identities: ['spiffe://cluster.local/ns/default/sa/b'] }], removes: ['10.0.0.9'] });
    assert.deepEqual(next.destinations.map(destinationKey), ['10.0.0.11', '10.96.0.10:80']);
    assert.deepEqual(next.pod, pod);
    assert.equal(next.version, 'e1:2');
    assert.deepEqual(view.destinations.map(destinationKey), ['10.0.0.9', '10.96.0.10:80'], 'the old view is not changed');
  });

  it('refuses a delta with no view and a full view without its pod', () => {
    assert.throws(() => applyViewUpdate(null, { ...full, full: false }), ViewUpdateError);
    assert.throws(() => applyViewUpdate(null, { ...full, pod: undefined }), /lacks pod/);
  });
});

describe('policy scope', () => {
  const obj = (namespace: string, matchLabels?: Record<string, string>) => ({ namespace, name: 'p', spec: matchLabels ? { selector: { matchLabels } } : {} });
  it('mesh-wide, namespace-wide and selected objects apply; others do not', () => {
    assert.equal(appliesTo(pod, obj('meshid-system'), 'meshid-system'), true);
    assert.equal(appliesTo(pod, obj('default'), 'meshid-system'), true);
    assert.equal(appliesTo(pod, obj('default', { app: 'details' }), 'meshid-system'), true);
    assert.equal(appliesTo(pod, obj('default', { app: 'reviews' }), 'meshid-system'), false);
    assert.equal(appliesTo(pod, obj('other'), 'meshid-system'), false);
  });
});
