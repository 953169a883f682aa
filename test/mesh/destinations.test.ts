import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { podFromObject, serviceFromObject, sliceFromObject } from '../../src/mesh/convert.js';
import { podIpDestination, serviceDestinations } from '../../src/mesh/destinations.js';
import { inboundPorts } from '../../src/mesh/inbound.js';
import type { MeshPod } from '../../src/mesh/model.js';
import { podObject, serviceObject, sliceObject } from '../helpers/mesh-objects.js';

const TD = 'cluster.local';
const id = (ns: string, sa: string) => `spiffe://${TD}/ns/${ns}/sa/${sa}`;
const pod = (name: string, o: Parameters<typeof podObject>[2] = {}) => podFromObject(podObject('shop', name, o))!;

describe('a pod IP is meshed iff a running injected pod holds it now', () => {
  const cases: Array<{ name: string; holders: MeshPod[]; want: string[] | null }> = [
    { name: 'a running injected pod', holders: [pod('a', { ips: ['10.0.0.1'] })], want: [id('shop', 'a')] },
    { name: 'a pod without a sidecar', holders: [pod('b', { ips: ['10.0.0.1'], injected: false })], want: null },
    { name: 'an injected pod not yet running', holders: [pod('a', { ips: ['10.0.0.1'], phase: 'Pending' })], want: null },
    { name: 'IP reused by a plain pod while the old injected one is still listed', holders: [pod('a', { ips: ['10.0.0.1'] }), pod('b', { ips: ['10.0.0.1'], injected: false, phase: 'Pending' })], want: null },
    { name: 'IP reused after the old pod finished', holders: [pod('a', { ips: ['10.0.0.1'], phase: 'Succeeded', injected: false }), pod('c', { ips: ['10.0.0.1'] })], want: [id('shop', 'c')] },
    { name: 'no holder', holders: [], want: null },
    { name: 'a malformed status annotation is not a sidecar', holders: [podFromObject({ ...podObject('shop', 'x', { ips: ['10.0.0.1'] }), metadata: { name: 'x', namespace: 'shop', annotations: { 'meshid.io/status': '{' } } })!], want: null },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = podIpDestination('10.0.0.1', c.holders, TD);
      assert.deepEqual(d?.identities ?? null, c.want);
      if (d) assert.equal(d.port, null);
    });
  }

  it('reads IPv4 and IPv6 from status.podIPs', () => {
    const p = pod('a', { ips: ['10.0.0.1', 'fd00::1'] });
    assert.deepEqual(p.ips, ['10.0.0.1', 'fd00::1']);
    assert.deepEqual(podIpDestination('fd00::1', [p], TD)?.identities, [id('shop', 'a')]);
  });
});

describe('a Service ClusterIP:port is meshed iff every ready endpoint is an injected pod', () => {
  const pods = new Map([
    ['web-1', pod('web-1', { sa: 'web' })], ['web-2', pod('web-2', { sa: 'web' })], ['web-v2', pod('web-v2', { sa: 'web-canary' })],
    ['plain', pod('plain', { injected: false })], ['starting', pod('starting', { phase: 'Pending' })],
  ]);
  const svc = serviceFromObject(serviceObject('shop', 'web', { clusterIPs: ['10.96.0.10', 'fd00:96::10'] }))!;
  const cases: Array<{ name: string; endpoints: Array<{ pod?: string; ip: string; ready?: boolean }>; want: string[] | null }> = [
    { name: 'all injected, one service account', endpoints: [{ pod: 'web-1', ip: '10.0.0.1' }, { pod: 'web-2', ip: '10.0.0.2' }], want: [id('shop', 'web')] },
    { name: 'two service accounts behind one Service: both identities', endpoints: [{ pod: 'web-1', ip: '10.0.0.1' }, { pod: 'web-v2', ip: '10.0.0.3' }], want: [id('shop', 'web'), id('shop', 'web-canary')] },
    { name: 'one ready endpoint without a sidecar', endpoints: [{ pod: 'web-1', ip: '10.0.0.1' }, { pod: 'plain', ip: '10.0.0.4' }], want: null },
    { name: 'a not-ready plain endpoint does not count', endpoints: [{ pod: 'web-1', ip: '10.0.0.1' }, { pod: 'plain', ip: '10.0.0.4', ready: false }], want: [id('shop', 'web')] },
    { name: 'an endpoint that is not a pod (manual)', endpoints: [{ pod: 'web-1', ip: '10.0.0.1' }, { ip: '192.168.1.1' }], want: null },
    { name: 'an endpoint whose pod is unknown', endpoints: [{ pod: 'gone', ip: '10.0.0.9' }], want: null },
    { name: 'no ready endpoints', endpoints: [{ pod: 'web-1', ip: '10.0.0.1', ready: false }], want: null },
    { name: 'an endpoint pod not yet running', endpoints: [{ pod: 'starting', ip: '10.0.0.5' }], want: null },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const ds = serviceDestinations(svc, [sliceFromObject(sliceObject('shop', 'web', c.endpoints))!], (n) => pods.get(n), TD);
      if (c.want === null) return assert.deepEqual(ds, []);
      assert.deepEqual(ds.map((d) => [d.address, d.port]), [['10.96.0.10', 80], ['fd00:96::10', 80]], 'every ClusterIP, IPv6 included');
      for (const d of ds) assert.deepEqual(d.identities, c.want);
    });
  }

  it('a headless Service has no ClusterIP destination; a slice for another port name does not count', () => {
    const headless = serviceFromObject(serviceObject('shop', 'web'))!;
    const slice = sliceFromObject(sliceObject('shop', 'web', [{ pod: 'web-1', ip: '10.0.0.1' }]))!;
    assert.deepEqual(serviceDestinations(headless, [slice], (n) => pods.get(n), TD), []);
    const other = sliceFromObject(sliceObject('shop', 'web', [{ pod: 'web-1', ip: '10.0.0.1' }], { portNames: ['grpc'] }))!;
    assert.deepEqual(serviceDestinations(svc, [other], (n) => pods.get(n), TD), []);
  });
});

describe('inbound ports from the Services selecting the pod', () => {
  const p = podFromObject(podObject('shop', 'web-1', { labels: { app: 'web' }, ports: [{ name: 'http', containerPort: 8080 }, { name: 'grpc', containerPort: 9090 }, { containerPort: 9000 }] }))!;
  const cases: Array<{ name: string; services: Array<Parameters<typeof serviceObject>>; want: Array<{ port: number; http: boolean }> }> = [
    { name: 'targetPort by number, HTTP by port name', services: [['shop', 'web', { selector: { app: 'web' }, ports: [{ name: 'http-web', port: 80, targetPort: 8080 }] }]], want: [{ port: 8080, http: true }] },
    { name: 'targetPort by name, appProtocol http', services: [['shop', 'web', { selector: { app: 'web' }, ports: [{ name: 'web', port: 80, targetPort: 'http', appProtocol: 'http' }] }]], want: [{ port: 8080, http: true }] },
    { name: 'TCP port, and a name the pod lacks exposes nothing', services: [['shop', 'web', { selector: { app: 'web' }, ports: [{ name: 'tcp', port: 9000, targetPort: 9000 }, { name: 'x', port: 1, targetPort: 'nope' }] }]], want: [{ port: 9000, http: false }] },
    { name: 'a Service of another namespace or selector does not select it', services: [['other', 'web', { selector: { app: 'web' } }], ['shop', 'db', { selector: { app: 'db' } }]], want: [] },
    { name: 'a Service without selector selects nothing', services: [['shop', 'web', { selector: null }]], want: [] },
    { name: 'two Services on one port: HTTP if either says so', services: [['shop', 'a', { selector: { app: 'web' }, ports: [{ name: 'tcp', port: 1, targetPort: 8080 }] }], ['shop', 'b', { selector: { app: 'web' }, ports: [{ name: 'http', port: 2, targetPort: 8080 }] }]], want: [{ port: 8080, http: true }] },
    { name: 'UDP ports are not proxied', services: [['shop', 'dns', { selector: { app: 'web' }, ports: [{ name: 'dns', port: 53, targetPort: 9000, protocol: 'UDP' }] }]], want: [] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(inboundPorts(p, c.services.map((args) => serviceFromObject(serviceObject(...args))!)), c.want));
  }
});
