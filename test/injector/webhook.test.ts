import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { applyResponse, containerNames, startWebhook, typicalPod, validatePod, type Webhook } from './support.js';

let hook: Webhook;
before(async () => {
  hook = await startWebhook();
});
after(() => hook.close());

const decodePatch = (r: any) => JSON.parse(Buffer.from(r.patch, 'base64').toString());

test('a bare pod gets the init container, the native proxy sidecar, volumes and status', async () => {
  const pod = typicalPod();
  const r = await hook.review(pod, { uid: 'bare-1' });
  assert.equal(r.uid, 'bare-1');
  assert.equal(r.allowed, true);
  assert.equal(r.patchType, 'JSONPatch');
  const out = applyResponse(pod, r);
  validatePod(out);
  assert.deepEqual(containerNames(out.spec.initContainers), ['meshid-init', 'meshid-proxy']);
  assert.deepEqual(containerNames(out.spec.containers), ['web']);
  assert.deepEqual(containerNames(out.spec.volumes), ['data', 'meshid-certs', 'meshid-token', 'meshid-ca-root', 'meshid-podinfo', 'meshid-workload']);
  const [init, proxy] = out.spec.initContainers;
  assert.deepEqual(out.spec.volumes.at(-1), { name: 'meshid-workload', emptyDir: {} });
  assert.deepEqual(proxy.volumeMounts.find((m: any) => m.name === 'meshid-workload'), { name: 'meshid-workload', mountPath: '/var/run/meshid/workload' });
  assert.ok(proxy.args.includes('--workload-socket=/var/run/meshid/workload/socket'));
  const web = out.spec.containers[0];
  assert.deepEqual(web.env.at(-1), { name: 'SPIFFE_ENDPOINT_SOCKET', value: 'unix:///var/run/meshid/workload/socket' });
  assert.deepEqual(web.volumeMounts.at(-1), { name: 'meshid-workload', mountPath: '/var/run/meshid/workload', readOnly: true });
  assert.ok(!web.volumeMounts.some((m: any) => m.name === 'meshid-certs'), 'the app never sees the SVID key');
  assert.deepEqual(init.securityContext.capabilities, { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] });
  assert.equal(init.command[1], 'iptables');
  assert.equal(proxy.restartPolicy, 'Always');
  assert.deepEqual(proxy.startupProbe.httpGet, { path: '/healthz/ready', port: 15021, scheme: 'HTTP' });
  assert.deepEqual(proxy.readinessProbe.httpGet, { path: '/healthz/ready', port: 15021, scheme: 'HTTP' });
  assert.equal(proxy.securityContext.runAsUser, 1337);
  assert.equal(proxy.securityContext.runAsNonRoot, true);
  assert.equal(proxy.securityContext.readOnlyRootFilesystem, true);
  assert.deepEqual(proxy.securityContext.capabilities, { drop: ['ALL'] });
  assert.deepEqual(proxy.command, ['meshid', 'agent']);
  const env = Object.fromEntries(proxy.env.map((e: any) => [e.name, e.value ?? e.valueFrom.fieldRef.fieldPath]));
  assert.equal(env.POD_NAMESPACE, 'metadata.namespace');
  assert.equal(env.SERVICE_ACCOUNT, 'spec.serviceAccountName');
  assert.equal(env.CA_ADDR, 'meshid.meshid-system.svc:15012');
  assert.equal(env.TRUST_DOMAIN, 'cluster.local');
  assert.equal(env.NODE_OPTIONS, '--max-semi-space-size=1 --jitless', 'the V8 settings the agent bench measures');
  const token = out.spec.volumes.find((v: any) => v.name === 'meshid-token');
  assert.deepEqual(token.projected.sources[0].serviceAccountToken, { audience: 'meshid-ca', expirationSeconds: 3600, path: 'meshid-token' });
  assert.deepEqual(out.spec.volumes.find((v: any) => v.name === 'meshid-certs').emptyDir, { medium: 'Memory' });
  assert.equal(out.spec.volumes.find((v: any) => v.name === 'meshid-ca-root').configMap.name, 'meshid-ca-root-cert');
  assert.equal(out.metadata.annotations['kubectl.kubernetes.io/default-container'], 'web');
  assert.equal(out.metadata.annotations['example.com/owner'], 'team-a');
  const status = JSON.parse(out.metadata.annotations['meshid.io/status']);
  assert.deepEqual(status.initContainers, ['meshid-init', 'meshid-proxy']);
  assert.deepEqual(status.volumes, ['meshid-certs', 'meshid-token', 'meshid-ca-root', 'meshid-podinfo', 'meshid-workload']);
  assert.deepEqual(status.workloadSocket, ['web']);
  // The input is what the API server sent; the user's own fields are untouched.
  assert.deepEqual(out.spec.containers[0].resources, pod.spec.containers[0].resources);
});

test('a pod created from a Deployment template is injected; the Deployment itself is admitted untouched', async () => {
  const template = {
    metadata: { labels: { app: 'api' } },
    spec: { containers: [{ name: 'api', image: 'api:1', ports: [{ containerPort: 9000 }] }] },
  };
  const deployment = {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api', namespace: 'apps' },
    spec: { selector: { matchLabels: { app: 'api' } }, template },
  };
  const d = await hook.review(deployment, { kind: 'Deployment', group: 'apps' });
  assert.equal(d.allowed, true);
  assert.equal(d.patch, undefined);

  const pod = {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      ...template.metadata, generateName: 'api-5f6d-', namespace: 'apps',
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'api-5f6d', uid: 'u', controller: true }],
    },
    spec: { ...template.spec, serviceAccountName: 'default' },
  };
  const out = applyResponse(pod, await hook.review(pod));
  validatePod(out);
  assert.deepEqual(containerNames(out.spec.initContainers), ['meshid-init', 'meshid-proxy']);
  assert.deepEqual(out.metadata.ownerReferences, pod.metadata.ownerReferences);
});

test('a pod with no initContainers, volumes or annotations gets them created by the patch', async () => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'a', image: 'a' }] } };
  const r = await hook.review(pod);
  const ops = decodePatch(r);
  const adds = ops.filter((o: any) => o.op === 'add').map((o: any) => o.path);
  for (const path of ['/spec/initContainers', '/spec/volumes', '/metadata/annotations']) assert.ok(adds.includes(path), `${path} in ${adds}`);
  const out = applyResponse(pod, r);
  validatePod(out);
  assert.equal(out.spec.volumes.length, 5);
  assert.deepEqual(out.spec.containers[0].env, [{ name: 'SPIFFE_ENDPOINT_SOCKET', value: 'unix:///var/run/meshid/workload/socket' }], 'env created');
});

test('annotation keys with "/" and "~" are escaped as JSON Pointers', async () => {
  const pod = typicalPod();
  pod.metadata.annotations = { 'a~b/c': '1' };
  const r = await hook.review(pod);
  const paths = decodePatch(r).map((o: any) => o.path);
  assert.ok(paths.includes('/metadata/annotations/meshid.io~1status'), paths.join(' '));
  assert.ok(paths.includes('/metadata/annotations/kubectl.kubernetes.io~1default-container'));
  const out = applyResponse(pod, r);
  assert.equal(out.metadata.annotations['a~b/c'], '1');
  assert.ok(out.metadata.annotations['meshid.io/status']);
});

test('app probes are rewritten to the agent, with originals for the agent and exec probes untouched', async () => {
  const pod = {
    metadata: { name: 'probes' },
    spec: {
      containers: [
        {
          name: 'http', image: 'x', ports: [{ name: 'web', containerPort: 8080 }],
          livenessProbe: { httpGet: { path: '/live', port: 8080, httpHeaders: [{ name: 'X', value: 'y' }] }, periodSeconds: 7, timeoutSeconds: 2 },
          readinessProbe: { httpGet: { path: '/ready', port: 'web' }, failureThreshold: 9 },
        },
        { name: 'tls', image: 'x', readinessProbe: { httpGet: { path: '/h', port: 8443, scheme: 'HTTPS' } } },
        { name: 'tcp', image: 'x', ports: [{ name: 'db', containerPort: 5432 }], livenessProbe: { tcpSocket: { port: 'db' } } },
        { name: 'grpc', image: 'x', startupProbe: { grpc: { port: 9090, service: 'health' }, failureThreshold: 30 } },
        { name: 'exec', image: 'x', livenessProbe: { exec: { command: ['true'] } } },
        { name: 'unknown-port', image: 'x', readinessProbe: { httpGet: { path: '/', port: 'nope' } } },
      ],
    },
  };
  const out = applyResponse(pod, await hook.review(pod));
  validatePod(out);
  const c = Object.fromEntries(out.spec.containers.map((x: any) => [x.name, x]));
  const agent = (p: string) => ({ path: p, port: 15020, scheme: 'HTTP' });
  assert.deepEqual(c.http.livenessProbe, { httpGet: agent('/app-health/http/livez'), periodSeconds: 7, timeoutSeconds: 2 });
  assert.deepEqual(c.http.readinessProbe, { httpGet: agent('/app-health/http/readyz'), failureThreshold: 9 });
  assert.deepEqual(c.tls.readinessProbe.httpGet, agent('/app-health/tls/readyz'));
  assert.deepEqual(c.tcp.livenessProbe, { httpGet: agent('/app-health/tcp/livez') });
  assert.deepEqual(c.grpc.startupProbe, { httpGet: agent('/app-health/grpc/startupz'), failureThreshold: 30 });
  assert.deepEqual(c.exec.livenessProbe, { exec: { command: ['true'] } });
  assert.deepEqual(c['unknown-port'].readinessProbe, pod.spec.containers[5]!.readinessProbe);

  const proxy = out.spec.initContainers.find((x: any) => x.name === 'meshid-proxy');
  const probers = JSON.parse(proxy.env.find((e: any) => e.name === 'MESHID_APP_PROBES').value);
  assert.deepEqual(probers, {
    '/app-health/http/livez': { httpGet: { path: '/live', port: 8080, scheme: 'HTTP', httpHeaders: [{ name: 'X', value: 'y' }] }, timeoutSeconds: 2 },
    '/app-health/http/readyz': { httpGet: { path: '/ready', port: 8080, scheme: 'HTTP' }, timeoutSeconds: 1 },
    '/app-health/tls/readyz': { httpGet: { path: '/h', port: 8443, scheme: 'HTTPS' }, timeoutSeconds: 1 },
    '/app-health/tcp/livez': { tcpSocket: { port: 5432 }, timeoutSeconds: 1 },
    '/app-health/grpc/startupz': { grpc: { port: 9090, service: 'health' }, timeoutSeconds: 1 },
  });
});

test('user init containers keep their order; the proxy goes per native/non-native rules', async () => {
  const pod = typicalPod();
  pod.spec.initContainers = [{ name: 'migrate', image: 'm' }, { name: 'seed', image: 's' }];
  const native = applyResponse(pod, await hook.review(pod));
  validatePod(native);
  assert.deepEqual(containerNames(native.spec.initContainers), ['meshid-init', 'meshid-proxy', 'migrate', 'seed']);

  pod.metadata.annotations['sidecar.meshid.io/nativeSidecar'] = 'false';
  const classic = applyResponse(pod, await hook.review(pod));
  validatePod(classic);
  assert.deepEqual(containerNames(classic.spec.initContainers), ['migrate', 'seed', 'meshid-init']);
  assert.deepEqual(containerNames(classic.spec.containers), ['meshid-proxy', 'web']);
  const proxy = classic.spec.containers[0];
  assert.equal(proxy.restartPolicy, undefined);
  assert.equal(proxy.startupProbe, undefined);
  assert.equal(proxy.lifecycle.postStart.exec.command[0], 'node');
  assert.equal(classic.metadata.annotations['kubectl.kubernetes.io/default-container'], 'web');

  pod.metadata.annotations['sidecar.meshid.io/holdApplicationUntilProxyStarts'] = 'false';
  const late = applyResponse(pod, await hook.review(pod));
  assert.deepEqual(containerNames(late.spec.containers), ['web', 'meshid-proxy']);
  assert.equal(late.spec.containers[1].lifecycle, undefined);
});

test('re-injection is idempotent and clean after another webhook changed the pod', async () => {
  const pod = typicalPod();
  pod.spec.containers[0].livenessProbe = { tcpSocket: { port: 8080 } };
  const once = applyResponse(pod, await hook.review(pod));
  const again = await hook.review(once);
  assert.equal(again.allowed, true);
  assert.equal(again.patch, undefined, 'a second pass changes nothing');
  assert.deepEqual(applyResponse(once, again), once);

  // Another webhook appends a container after us; reinvocation renders the sidecar afresh around it.
  const changed = structuredClone(once);
  changed.spec.containers.push({ name: 'logger', image: 'fluent', readinessProbe: { tcpSocket: { port: 24224 } } });
  changed.metadata.annotations['sidecar.meshid.io/proxyCPU'] = '300m';
  const re = applyResponse(changed, await hook.review(changed));
  validatePod(re);
  assert.deepEqual(containerNames(re.spec.initContainers), ['meshid-init', 'meshid-proxy']);
  assert.deepEqual(containerNames(re.spec.containers), ['web', 'logger']);
  assert.equal(re.spec.volumes.length, 6);
  for (const c of re.spec.containers) {
    assert.equal(c.env.filter((e: any) => e.name === 'SPIFFE_ENDPOINT_SOCKET').length, 1, `${c.name}: the socket's env once`);
    assert.equal(c.volumeMounts.filter((m: any) => m.name === 'meshid-workload').length, 1, `${c.name}: the socket's folder once`);
  }
  assert.equal(re.spec.initContainers[1].resources.requests.cpu, '300m');
  assert.deepEqual(re.spec.containers[1].readinessProbe.httpGet.path, '/app-health/logger/readyz');
  const status = JSON.parse(re.metadata.annotations['meshid.io/status']);
  assert.deepEqual(status.probes.web.livenessProbe, { tcpSocket: { port: 8080 } }, 'original probe kept, not the rewritten one');
});

test('a container that sets its own SPIFFE_ENDPOINT_SOCKET (a SPIRE agent) keeps it; un-injection takes back exactly what was added', async () => {
  const pod = typicalPod();
  const spire = { name: 'spire-app', image: 'x', env: [{ name: 'SPIFFE_ENDPOINT_SOCKET', value: 'unix:///run/spire/sockets/agent.sock' }] };
  pod.spec.containers.push(spire);
  const out = applyResponse(pod, await hook.review(pod));
  validatePod(out);
  assert.deepEqual(out.spec.containers[1], spire, 'left as it was');
  assert.deepEqual(JSON.parse(out.metadata.annotations['meshid.io/status']).workloadSocket, ['web']);
  const { uninject, readStatus } = await import('../../src/injector/status.js');
  const back = uninject(out, readStatus(out)!) as any;
  assert.deepEqual(back.spec.containers, pod.spec.containers);
  assert.deepEqual(back.spec.volumes, pod.spec.volumes);
});

test('opt-out label, hostNetwork, system and control plane namespaces are admitted without a patch', async () => {
  const cases: Array<[string, (p: any) => void, string?]> = [
    ['opt_out_label', (p) => (p.metadata.labels['meshid.io/inject'] = 'false')],
    ['host_network', (p) => (p.spec.hostNetwork = true)],
    ['system_namespace', () => {}, 'kube-system'],
    ['system_namespace', () => {}, 'kube-node-lease'],
    ['control_plane_namespace', () => {}, 'meshid-system'],
  ];
  for (const [reason, edit, namespace] of cases) {
    const pod = typicalPod();
    edit(pod);
    const r = await hook.review(pod, namespace ? { namespace } : {});
    assert.equal(r.allowed, true, reason);
    assert.equal(r.patch, undefined, reason);
    const m = await hook.registry.getSingleMetric('meshid_injector_skipped_total')!.get();
    assert.ok(m.values.some((v) => v.labels.reason === reason && v.value > 0), reason);
  }
  const optIn = typicalPod();
  optIn.metadata.labels['meshid.io/inject'] = 'true';
  assert.ok((await hook.review(optIn)).patch);
});

test('dryRun requests get the same patch and are not counted as injected pods', async () => {
  const pod = typicalPod();
  const before = (await hook.registry.getSingleMetric('meshid_injector_injected_total')!.get()).values[0]?.value ?? 0;
  const dry = await hook.review(pod, { dryRun: true });
  const after = (await hook.registry.getSingleMetric('meshid_injector_injected_total')!.get()).values[0]?.value ?? 0;
  assert.equal(after, before);
  const real = await hook.review(pod);
  assert.equal(dry.patch, real.patch);
});

test('non-CREATE operations and subresources are admitted untouched', async () => {
  const pod = typicalPod();
  assert.equal((await hook.review(pod, { operation: 'UPDATE' })).patch, undefined);
  assert.equal((await hook.review({ kind: 'Eviction' }, { kind: 'Eviction', group: 'policy' })).patch, undefined);
});

test('metrics count requests, injections, failures and latency on the registry passed in', async () => {
  assert.equal((await hook.post('{}', 'text/plain')).status, 415);
  const text = await hook.registry.metrics();
  assert.match(text, /^meshid_injector_failed_total\{reason="unsupported_media_type"\} 1$/m);
  for (const name of ['meshid_injector_requests_total', 'meshid_injector_injected_total', 'meshid_injector_skipped_total',
    'meshid_injector_failed_total', 'meshid_injector_request_duration_seconds_bucket']) {
    assert.match(text, new RegExp(`^${name}`, 'm'));
  }
});

test('pods share the rendered sidecar without one pod\'s probes or overrides reaching another', async () => {
  const proxyOf = (pod: any) => pod.spec.initContainers.find((c: any) => c.name === 'meshid-proxy');
  const envNames = (pod: any) => proxyOf(pod).env.map((e: any) => e.name);
  const probed = typicalPod();
  const plain = typicalPod();
  delete plain.spec.containers[0].readinessProbe;
  const custom = typicalPod();
  custom.metadata.annotations['sidecar.meshid.io/proxyCPU'] = '300m';
  const bad = typicalPod();
  bad.metadata.annotations['sidecar.meshid.io/proxyCPU'] = 'lots';
  for (let round = 0; round < 2; round++) {
    const a = applyResponse(probed, await hook.review(probed));
    const b = applyResponse(plain, await hook.review(plain));
    const c = applyResponse(custom, await hook.review(custom));
    assert.deepEqual(envNames(a).slice(-1), ['MESHID_APP_PROBES']);
    assert.ok(!envNames(b).includes('MESHID_APP_PROBES'));
    assert.deepEqual({ ...proxyOf(a), env: envNames(a).slice(0, -1) }, { ...proxyOf(b), env: envNames(b) });
    assert.equal(proxyOf(c).resources.requests.cpu, '300m');
    assert.equal(proxyOf(b).resources.requests.cpu, '100m');
    assert.equal((await hook.review(bad)).allowed, false, 'a refused override is refused every time');
  }
});

test('the sidecar goes in front of user init containers without copying them into the patch', async () => {
  const pod = typicalPod();
  pod.spec.initContainers = [{ name: 'migrate', image: 'm', env: Array.from({ length: 5000 }, (_, i) => ({ name: `V${i}`, value: 'v'.repeat(50) })) }];
  const r = await hook.review(pod);
  assert.ok(Buffer.from(r.patch, 'base64').length < 10_000, `patch of ${r.patch.length} base64 bytes`);
  const out = applyResponse(pod, r);
  validatePod(out);
  assert.deepEqual(containerNames(out.spec.initContainers), ['meshid-init', 'meshid-proxy', 'migrate']);
  assert.deepEqual(out.spec.initContainers[2], pod.spec.initContainers[0]);
});
