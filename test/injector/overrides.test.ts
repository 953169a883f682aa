import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { applyResponse, startWebhook, typicalPod, validatePod, type Webhook } from './support.js';

let hook: Webhook;
before(async () => {
  hook = await startWebhook();
});
after(() => hook.close());

const P = 'sidecar.meshid.io/';

async function inject(annotations: Record<string, string>): Promise<{ response: any; pod: any }> {
  const pod = typicalPod();
  Object.assign(pod.metadata.annotations, annotations);
  const response = await hook.review(pod);
  return { response, pod: response.allowed ? applyResponse(pod, response) : null };
}

const proxyOf = (pod: any) => [...pod.spec.initContainers, ...pod.spec.containers].find((c: any) => c.name === 'meshid-proxy');
const iptablesArgs = (pod: any): Record<string, string> =>
  Object.fromEntries(pod.spec.initContainers[0].command.slice(2).map((a: string) => a.slice(2).split(/=(.*)/s).slice(0, 2)));

test('valid overrides are honored', async (t) => {
  const cases: Array<[string, string, (pod: any) => void]> = [
    // One image runs both injected containers, so the override moves both.
    ['proxyImage', 'registry.example.com/mesh/proxy:1.2@sha256:' + 'a'.repeat(64), (p) => assert.deepEqual(
      [p.spec.initContainers[0].name, p.spec.initContainers[0].image, proxyOf(p).image],
      ['meshid-init', ...Array(2).fill(`registry.example.com/mesh/proxy:1.2@sha256:${'a'.repeat(64)}`)],
    )],
    ['proxyCPU', '250m', (p) => assert.equal(proxyOf(p).resources.requests.cpu, '250m')],
    ['proxyMemory', '256Mi', (p) => assert.equal(proxyOf(p).resources.requests.memory, '256Mi')],
    ['proxyCPULimit', '1.5', (p) => assert.equal(proxyOf(p).resources.limits.cpu, '1.5')],
    ['proxyMemoryLimit', '2Gi', (p) => assert.equal(proxyOf(p).resources.limits.memory, '2Gi')],
    ['includeInboundPorts', '8080, 9090', (p) => assert.equal(iptablesArgs(p)['include-inbound-ports'], '8080,9090')],
    ['excludeInboundPorts', '22', (p) => assert.equal(iptablesArgs(p)['exclude-inbound-ports'], '22')],
    ['includeOutboundPorts', '443', (p) => assert.equal(iptablesArgs(p)['include-outbound-ports'], '443')],
    ['excludeOutboundPorts', '3306,5432', (p) => assert.equal(iptablesArgs(p)['exclude-outbound-ports'], '3306,5432')],
    ['includeOutboundIPRanges', '10.0.0.0/8,fd00::/8', (p) => assert.equal(iptablesArgs(p)['include-outbound-ip-ranges'], '10.0.0.0/8,fd00::/8')],
    ['excludeOutboundIPRanges', '169.254.169.254/32', (p) => assert.equal(iptablesArgs(p)['exclude-outbound-ip-ranges'], '169.254.169.254/32')],
    ['includeInboundPorts', '*', (p) => assert.equal(iptablesArgs(p)['include-inbound-ports'], '*')],
    ['rewriteAppHTTPProbers', 'false', (p) => assert.deepEqual(p.spec.containers[0].readinessProbe, typicalPod().spec.containers[0].readinessProbe)],
    ['nativeSidecar', 'false', (p) => assert.equal(p.spec.containers[0].name, 'meshid-proxy')],
    ['holdApplicationUntilProxyStarts', 'false', (p) => assert.equal(proxyOf(p).startupProbe, undefined)],
  ];
  for (const [key, value, check] of cases) {
    await t.test(`${key}=${value}`, async () => {
      const { response, pod } = await inject({ [P + key]: value });
      assert.equal(response.allowed, true, JSON.stringify(response.status));
      validatePod(pod);
      check(pod);
    });
  }
});

test('invalid overrides deny the pod with a message naming the annotation and the value', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['proxyImage', 'nginx; rm -rf /', /proxyImage: "nginx; rm -rf \/" is not an image reference/],
    ['proxyCPU', 'lots', /proxyCPU: "lots" is not a Kubernetes quantity/],
    ['proxyMemory', '-1Gi', /proxyMemory: "-1Gi"/],
    ['proxyCPULimit', '1e99999', /proxyCPULimit/],
    ['proxyMemoryLimit', '12XB', /proxyMemoryLimit: "12XB"/],
    ['includeInboundPorts', '80,65536', /includeInboundPorts: port "65536" is outside 1-65535/],
    ['excludeInboundPorts', '0', /excludeInboundPorts: port "0" is outside/],
    ['includeOutboundPorts', '99999999999999999999', /includeOutboundPorts: "99999999999999999999" is not a port number/],
    ['excludeOutboundPorts', '80,,81', /excludeOutboundPorts: empty list entry/],
    ['includeOutboundIPRanges', '10.0.0.0/33', /includeOutboundIPRanges: "10.0.0.0\/33" has a prefix longer/],
    ['excludeOutboundIPRanges', '300.1.1.1/8', /excludeOutboundIPRanges: "300.1.1.1\/8" is not a CIDR/],
    ['excludeOutboundIPRanges', '10.0.0.0/8,*', /excludeOutboundIPRanges: "\*" must stand alone/],
    ['rewriteAppHTTPProbers', 'yes', /rewriteAppHTTPProbers: "yes" is not true or false/],
    ['nativeSidecar', 'TRUE', /nativeSidecar: "TRUE"/],
    ['holdApplicationUntilProxyStarts', '1', /holdApplicationUntilProxyStarts: "1"/],
    ['proxyCpu', '100m', /"sidecar.meshid.io\/proxyCpu" is not a meshid override/],
  ];
  for (const [key, value, message] of cases) {
    await t.test(`${key}=${value}`, async () => {
      const { response } = await inject({ [P + key]: value });
      assert.equal(response.allowed, false);
      assert.equal(response.patch, undefined);
      assert.equal(response.status.code, 400);
      assert.match(response.status.message, message);
      assert.match(response.status.message, new RegExp(key));
    });
  }
});

test('absurd annotation values are refused briefly, without echoing them whole', async () => {
  const huge = '9'.repeat(1_000_000);
  const { response } = await inject({ [`${P}includeInboundPorts`]: huge });
  assert.equal(response.allowed, false);
  assert.match(response.status.message, /includeInboundPorts is 1000000 characters long; the limit is 4096/);
  assert.ok(response.status.message.length < 300);

  const control = await inject({ [`${P}proxyImage`]: 'a\u0000b\u001b[31m\n' });
  assert.equal(control.response.allowed, false);
  assert.match(control.response.status.message, /"a\\u0000b\\u001b\[31m\\n" is not an image reference/);

  const manyPorts = await inject({ [`${P}excludeInboundPorts`]: Array.from({ length: 300 }, (_, i) => i + 1).join(',') });
  assert.match(manyPorts.response.status.message, /more than 256 entries/);

  const unicode = await inject({ [`${P}proxyCPU`]: '１００m' });
  assert.equal(unicode.response.allowed, false);
});
