import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startAgent } from '../../src/agent/agent.js';
import { APP_PROBES_ENV, parseAppProbes } from '../../src/common/app-probes-env.js';
import type { ControlPlane } from '../../src/controlplane/start.js';
import { AGENT_USAGE, parseAgentConfig } from '../../src/cli/agent.js';
import { injectorConfig } from '../../src/injector/config.js';
import { injectPod } from '../../src/injector/inject.js';
import { agentConfig, startCa, startProbeTargets } from './helpers.js';

/** The pod as the kubelet sees it once scheduled: what the downward API resolves fieldRefs from. */
const scheduled = {
  'metadata.name': 'web-1', 'metadata.namespace': 'shop', 'spec.serviceAccountName': 'web', 'spec.nodeName': 'node-a',
  'status.podIP': '10.1.2.3', 'status.podIPs': '10.1.2.3,fd00:10::3',
} as Record<string, string>;

function injected(containers: unknown[]): any {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', namespace: 'shop' }, spec: { serviceAccountName: 'web', containers } };
  const { pod: out } = injectPod(pod, 'shop', injectorConfig());
  return out;
}

const proxyOf = (pod: any) => [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((c: any) => c.name === 'meshid-proxy');

/** The container's env as the kubelet hands it to the process. */
function envOf(container: any): Record<string, string> {
  return Object.fromEntries(container.env.map((e: any) => {
    if (e.value !== undefined) return [e.name, e.value];
    const path = e.valueFrom.fieldRef.fieldPath;
    assert.ok(path in scheduled, `fieldRef ${path} is one the downward API resolves here`);
    return [e.name, scheduled[path]!];
  }));
}

let cp: ControlPlane;
before(async () => {
  cp = await startCa();
});
after(async () => {
  await cp.close();
});

test('the injector\'s MESHID_APP_PROBES (HTTP named port, TCP, gRPC) is read by the agent\'s parser and served on the rewritten probe paths', async (t) => {
  const { httpPort: hp, tcpPort: tp, grpcPort } = await startProbeTargets(t, { httpStatus: (req) => (req.url === '/live' && req.headers['x-probe'] === 'kubelet' ? 200 : 500) });

  const pod = injected([
    {
      name: 'web', image: 'web:1', ports: [{ name: 'http', containerPort: hp }],
      livenessProbe: { httpGet: { path: '/live', port: 'http', httpHeaders: [{ name: 'X-Probe', value: 'kubelet' }] }, timeoutSeconds: 2 },
      readinessProbe: { httpGet: { path: '/not-there', port: 'http' } },
    },
    { name: 'db', image: 'db:1', ports: [{ name: 'pg', containerPort: tp }], livenessProbe: { tcpSocket: { port: 'pg' } }, startupProbe: { grpc: { port: grpcPort } } },
  ]);
  const env = envOf(proxyOf(pod));
  const probes = parseAppProbes(env[APP_PROBES_ENV]);
  const rewritten = pod.spec.containers.flatMap((c: any) => ['livenessProbe', 'readinessProbe', 'startupProbe'].filter((k) => c[k]).map((k) => c[k].httpGet));
  assert.deepEqual([...probes.keys()].sort(), rewritten.map((h: any) => h.path).sort(), 'one parsed probe per path the kubelet will call');
  assert.deepEqual(probes.get('/app-health/web/livez'), { kind: 'http', scheme: 'HTTP', host: '127.0.0.1', port: hp, path: '/live', headers: { 'X-Probe': 'kubelet' }, timeoutMs: 2000 });
  assert.deepEqual(probes.get('/app-health/db/livez'), { kind: 'tcp', host: '127.0.0.1', port: tp, timeoutMs: 1000 });
  assert.deepEqual(probes.get('/app-health/db/startupz'), { kind: 'grpc', host: '127.0.0.1', port: grpcPort, service: '', timeoutMs: 1000 });

  const agent = await startAgent({ ...(await agentConfig(cp)), appProbesJson: env[APP_PROBES_ENV] });
  t.after(() => agent.stop());
  const expected: Record<string, number> = { '/app-health/web/livez': 200, '/app-health/web/readyz': 500, '/app-health/db/livez': 200, '/app-health/db/startupz': 200 };
  for (const h of rewritten) {
    assert.equal(h.port, 15020, 'the kubelet is sent to the agent\'s status port (here the test\'s free port stands in for it)');
    const res = await fetch(`http://127.0.0.1:${agent.statusPort}${h.path}`);
    assert.equal(res.status, expected[h.path], `${h.path}: ${await res.text()}`);
  }
  assert.equal((await fetch(`http://127.0.0.1:${agent.statusPort}/app-health/web/startupz`)).status, 404, 'no startup probe for web');
});

test('the injected proxy container, run by the agent CLI\'s own parser, reads and writes exactly the volumes mounted into it', () => {
  const pod = injected([{ name: 'web', image: 'web:1' }]);
  const proxy = proxyOf(pod);
  const volumes = Object.fromEntries(pod.spec.volumes.map((v: any) => [v.name, v]));
  const mount = (name: string) => proxy.volumeMounts.find((m: any) => m.name === name).mountPath as string;
  assert.deepEqual(proxy.command, ['meshid', 'agent']);
  const env = envOf(proxy);
  for (const name of ['POD_NAMESPACE', 'SERVICE_ACCOUNT', 'CA_ADDR', 'TRUST_DOMAIN', 'POD_IPS']) assert.ok(name in env, `${name} is set`);

  const parsed = parseAgentConfig(proxy.args, env);
  assert.ok(!('help' in parsed));
  const { config, once } = parsed as Exclude<typeof parsed, { help: true }>;
  assert.equal(once, false);
  const token = volumes['meshid-token'].projected.sources[0].serviceAccountToken;
  assert.equal(config.tokenFile, `${mount('meshid-token')}/${token.path}`);
  assert.equal(token.audience, 'meshid-ca');
  assert.equal(volumes['meshid-ca-root'].configMap.name, 'meshid-ca-root-cert');
  assert.equal(config.caRootFile, `${mount('meshid-ca-root')}/root-cert.pem`, 'the ConfigMap\'s key, in its mount');
  assert.deepEqual(volumes['meshid-certs'].emptyDir, { medium: 'Memory' });
  for (const path of [config.sdsSocket, config.outDir!, config.envoyConfigPath]) {
    assert.ok(path.startsWith(`${mount('meshid-certs')}/`), `${path} is in the meshid-certs emptyDir (the root filesystem is read-only)`);
  }
  assert.equal(config.envoyBinary, '/usr/local/bin/envoy', 'the proxy container starts Envoy');
  assert.equal(config.workloadSocket, `${mount('meshid-workload')}/socket`, 'the Workload API socket is in its own emptyDir');
  const app = pod.spec.containers.find((c: any) => c.name === 'web');
  const appMount = app.volumeMounts.find((m: any) => m.name === 'meshid-workload');
  assert.equal(appMount.mountPath, mount('meshid-workload'), 'the app mounts the same folder');
  assert.equal(envOf(app).SPIFFE_ENDPOINT_SOCKET, `unix://${config.workloadSocket}`, 'and is told where the socket is');
  assert.deepEqual([config.namespace, config.serviceAccount, config.caUrl, config.trustDomain], ['shop', 'web', 'https://meshid.meshid-system.svc:15012', 'cluster.local']);
  assert.deepEqual(config.podIps, ['10.1.2.3', 'fd00:10::3']);
  assert.equal(proxy.readinessProbe.httpGet.port, config.healthPort);
  assert.equal(proxy.readinessProbe.httpGet.path, '/healthz/ready');
  assert.deepEqual(proxy.ports.map((p: any) => p.containerPort), [config.statusPort, config.healthPort, 15090]);

  // Run by hand with no flags, the agent's defaults are the same paths: nothing has to be spelled out.
  const bare = parseAgentConfig([], env) as Exclude<typeof parsed, { help: true }>;
  const paths = (c: typeof config) => [c.tokenFile, c.caRootFile, c.sdsSocket, c.workloadSocket, c.envoyConfigPath];
  assert.deepEqual(paths(bare.config), paths(config));
  for (const path of paths(config)) assert.ok(AGENT_USAGE.includes(path), `--help names ${path}`);
});

test('agent flags: --once-timeout and POD_IPS are checked, each with one line naming it', () => {
  const base = ['--ca-addr', 'ca:15012', '--namespace', 'shop', '--service-account', 'web'];
  const ok = parseAgentConfig([...base, '--once', '--out-dir', '/tmp/x', '--once-timeout', '3s'], { POD_IPS: ' 10.0.0.1 , fd00::1 ' }) as any;
  assert.deepEqual([ok.config.onceTimeoutMs, ok.config.podIps], [3000, ['10.0.0.1', 'fd00::1']]);
  assert.equal((parseAgentConfig([...base, '--once', '--out-dir', '/tmp/x'], {}) as any).config.onceTimeoutMs, 120_000, 'default 2m');
  assert.throws(() => parseAgentConfig([...base, '--once', '--out-dir', '/x', '--once-timeout', 'soon'], {}), /^Error: --once-timeout: "soon" is not a duration/);
  assert.throws(() => parseAgentConfig([...base, '--once-timeout', '5s'], {}), /--once-timeout only applies with --once/);
  assert.throws(() => parseAgentConfig(base, { POD_IPS: '10.0.0.1,not-an-ip' }), /POD_IPS "not-an-ip" is not an IP address/);
  assert.match(AGENT_USAGE, /--once-timeout DURATION .*\n.*default 2m/);
});

test('agent flags: --bundle-poll-interval sets how often the bundle file is re-read, within bounds', () => {
  const base = ['--ca-addr', 'ca:15012', '--namespace', 'shop', '--service-account', 'web'];
  const of = (...extra: string[]) => (parseAgentConfig([...base, ...extra], {}) as any).config.bundlePollMs;
  assert.equal(of(), 5000, 'default 5s');
  assert.equal(of('--bundle-poll-interval', '500ms'), 500);
  assert.throws(() => of('--bundle-poll-interval', '10ms'), /^Error: --bundle-poll-interval "10ms" must be between 100ms and 1h$/);
  assert.throws(() => of('--bundle-poll-interval', '2h'), /must be between 100ms and 1h/);
  assert.match(AGENT_USAGE, /--bundle-poll-interval DURATION\n.*default\n.*5s;/);
});
