import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { chooseListenAddress, loopbackFor } from '../../src/controlplane/listen.js';
import { PROXY_IMAGE_ENV } from '../../src/common/image.js';
import { status } from '@grpc/grpc-js';
import { meshid, spawnServe, type ServeChild } from '../helpers/cli.js';
import { istioClient } from '../helpers/istio-client.js';
import { postJson, send } from '../helpers/http.js';
import { tempDir } from '../helpers/openssl.js';
import { reviewFor, typicalPod } from '../injector/support.js';

const FREE_PORTS = ['--ca-port', '0', '--istio-ca-port', '0', '--webhook-port', '0', '--monitoring-port', '0'];

async function serveLocal(t: { after(fn: () => unknown): void }, args: string[], env: NodeJS.ProcessEnv = {}): Promise<ServeChild & { roots: string; urls: Record<'ca' | 'webhook' | 'monitoring' | 'istio', URL> }> {
  const dataDir = await tempDir('cli-listen-');
  const served = await spawnServe(['--local', '--data-dir', dataDir, ...FREE_PORTS, ...args], env);
  t.after(() => served.child.kill('SIGTERM'));
  const url = (name: string) => new URL(new RegExp(`${name}=(\\S+)`).exec(served.ready)![1]!);
  return { ...served, roots: await readFile(`${dataDir}/root-cert.pem`, 'utf8'), urls: { ca: url('ca'), webhook: url('webhook'), monitoring: url('monitoring'), istio: new URL(`grpc://${/istio-ca=(\S+)/.exec(served.ready)![1]!}`) } };
}

/** The same port on another loopback address. */
const on = (url: URL, host: string, path: string) => `${url.protocol}//${host}:${url.port}${path}`;

/** The Istio CA API's own refusal of a call without a token, over TLS verified against the trust bundle. */
async function istioRefusal(url: URL, host: string, roots: string): Promise<status> {
  const client = istioClient(`${host}:${url.port}`, roots);
  try {
    return (await client.create({ csr: 'x' })).code;
  } finally {
    client.close();
  }
}

/** What the webhook of that server writes for the two injected containers' images. */
async function injectedImages(url: string, ca: string): Promise<string[]> {
  const res = await postJson(url, reviewFor(typicalPod()), { ca });
  assert.equal(res.status, 200, res.text);
  const ops = JSON.parse(Buffer.from(res.json().response.patch, 'base64').toString()) as Array<{ value?: unknown }>;
  const containers = ops.flatMap((op) => (Array.isArray(op.value) ? op.value : [op.value])) as Array<{ name?: string; image?: string }>;
  return ['meshid-init', 'meshid-proxy'].map((name) => containers.find((c) => c?.name === name)?.image ?? `no ${name}`);
}

test('by default serve listens on :: and answers on 127.0.0.1 and ::1 on all four ports; MESHID_PROXY_IMAGE sets both injected images', async (t) => {
  const s = await serveLocal(t, [], { [PROXY_IMAGE_ENV]: 'reg.example/meshid:x' });
  assert.match(s.ready, /ca=https:\/\/127\.0\.0\.1:\d+\/v1\/certificates webhook=https:\/\/127\.0\.0\.1:\d+\/inject monitoring=http:\/\/127\.0\.0\.1:\d+\/metrics/);
  for (const host of ['127.0.0.1', '[::1]']) {
    assert.equal((await send(on(s.urls.monitoring, host, '/healthz'))).status, 200, `monitoring on ${host}`);
    // No token: the CA API's own refusal, over TLS verified against the trust bundle.
    assert.equal((await postJson(on(s.urls.ca, host, '/v1/certificates'), { csr: 'x' }, { ca: s.roots })).status, 401, `CA on ${host}`);
    assert.equal(await istioRefusal(s.urls.istio, host, s.roots), status.UNAUTHENTICATED, `Istio CA API on ${host}`);
    assert.deepEqual(await injectedImages(on(s.urls.webhook, host, '/inject'), s.roots), ['reg.example/meshid:x', 'reg.example/meshid:x'], `webhook on ${host}`);
  }
  assert.match(s.stderr(), /"listen":"::"/);
});

test('--listen-address 127.0.0.1 is not reachable on ::1; --proxy-image wins over the environment', async (t) => {
  const s = await serveLocal(t, ['--listen-address', '127.0.0.1', '--proxy-image', 'reg.example/flag:1'], { [PROXY_IMAGE_ENV]: 'reg.example/env:1' });
  assert.equal((await send(on(s.urls.monitoring, '127.0.0.1', '/healthz'))).status, 200);
  for (const url of [s.urls.monitoring, s.urls.ca, s.urls.webhook, s.urls.istio]) {
    await assert.rejects(send(`https://[::1]:${url.port}/`, { ca: s.roots }), { code: 'ECONNREFUSED' }, `${url.port} on ::1`);
  }
  assert.equal(await istioRefusal(s.urls.istio, '127.0.0.1', s.roots), status.UNAUTHENTICATED);
  assert.deepEqual(await injectedImages(on(s.urls.webhook, '127.0.0.1', '/inject'), s.roots), ['reg.example/flag:1', 'reg.example/flag:1']);
});

test('a bad --listen-address or proxy image exits 2 with one line naming it', async () => {
  const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
    [['--listen-address', 'localhost'], {}, /--listen-address "localhost" must be an IP address/],
    [['--listen-address', '10.0.0.300'], {}, /--listen-address "10\.0\.0\.300" must be an IP address/],
    [['--listen-address', ''], {}, /--listen-address "" must be an IP address/],
    [['--proxy-image', 'bad image!'], {}, /--proxy-image \(or \$MESHID_PROXY_IMAGE\): "bad image!" is not an image reference/],
    [[], { [PROXY_IMAGE_ENV]: 'nope; rm -rf /' }, /--proxy-image \(or \$MESHID_PROXY_IMAGE\): "nope; rm -rf \/" is not an image reference/],
  ];
  for (const [args, env, message] of cases) {
    const r = await meshid(['serve', '--local', ...args, ...FREE_PORTS], env);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.split('\n')[0]!, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  const help = await meshid(['serve', '--help']);
  assert.match(help.stdout, /--listen-address IP .*default ::/);
  assert.match(help.stdout, /--proxy-image IMAGE .*MESHID_PROXY_IMAGE/s);
});

test('only the default falls back to IPv4, and only where :: cannot be bound; URLs name loopback', () => {
  assert.deepEqual(chooseListenAddress(undefined, true), { address: '::', fellBack: false });
  assert.deepEqual(chooseListenAddress(undefined, false), { address: '0.0.0.0', fellBack: true });
  assert.deepEqual(chooseListenAddress('::', false), { address: '::', fellBack: false });
  assert.deepEqual(chooseListenAddress('10.1.2.3', false), { address: '10.1.2.3', fellBack: false });
  assert.deepEqual(['::', '0.0.0.0', '::1', '127.0.0.1'].map(loopbackFor), ['127.0.0.1', '127.0.0.1', '[::1]', '127.0.0.1']);
});
