import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ImageRegistry } from './images.js';
import { PodRun } from './kubelet.js';
import { PodNetwork } from './network.js';

const SERVER = `const h=require('node:http');const fs=require('node:fs');
h.createServer((q,s)=>{s.end(JSON.stringify({uid:process.getuid(),env:process.env.MY_POD_IP,vol:fs.readdirSync('/data'),cfg:fs.readFileSync('/etc/cfg/k','utf8'),labels:fs.readFileSync('/etc/podinfo/labels','utf8')}))}).listen(8080,'::');
try{fs.writeFileSync('/rootfs-probe','x');console.log('root writable')}catch(e){console.log('root '+e.code)}
fs.writeFileSync('/data/written','y');`;

/** The harness itself must honour the spec it is given, or nothing built on it means anything. */
test('kubelet: a pod runs as its spec says: user, read-only root, volumes, env fieldRefs, probes', async (t) => {
  const network = await PodNetwork.create();
  t.after(() => network.close());
  const images = new ImageRegistry();
  images.tag('app', images.app);
  const statuses: unknown[] = [];
  const pod = {
    metadata: { name: 'p1', namespace: 'shop', uid: 'u1', labels: { app: 'web' } },
    spec: {
      volumes: [{ name: 'data', emptyDir: {} }, { name: 'cfg', configMap: { name: 'c' } }, { name: 'podinfo', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } }],
      containers: [{
        name: 'web', image: 'app', command: ['node', '-e', SERVER],
        env: [{ name: 'MY_POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
        securityContext: { runAsUser: 4242, readOnlyRootFilesystem: true },
        volumeMounts: [{ name: 'data', mountPath: '/data' }, { name: 'cfg', mountPath: '/etc/cfg', readOnly: true }, { name: 'podinfo', mountPath: '/etc/podinfo' }],
        readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
      }],
    },
  };
  const run = new PodRun(pod, {
    images, network, hosts: {}, nodeName: 'node-1',
    sources: { configMap: () => ({ k: 'v1' }), token: async () => 'unused' },
    reportStatus: (p) => statuses.push(structuredClone(p)),
  });
  t.after(() => run.stop());
  await run.start();
  await run.waitReady(15_000);
  const res = await fetch(`http://${run.ip}:8080/`);
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(body.uid, 4242);
  assert.equal(body.env, run.ip);
  assert.equal(body.cfg, 'v1');
  assert.equal(body.labels, 'app="web"\n');
  assert.deepEqual(body.vol, ['written']);
  assert.match(run.container('web').logs(), /root EROFS/);
  assert.ok(statuses.length >= 2, 'the pod status was reported');
  const ipv6 = run.host!.ipv6!;
  assert.equal((await fetch(`http://[${ipv6}]:8080/`)).status, 200, 'the pod is reachable over IPv6');
});
