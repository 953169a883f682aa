import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { ControlPlane } from '../../src/controlplane/start.js';
import { startAgent } from '../../src/agent/agent.js';
import { SECRET_TYPE_URL } from '../../src/agent/sds-protos.js';
import { agentConfig, captureLogger, outageProxy, decodeSecret, ManualTimers, sdsClient, startCa } from './helpers.js';

let cp: ControlPlane;
before(async () => {
  cp = await startCa();
});
after(async () => {
  await cp.close();
});

function certsOf(pem: Buffer): X509Certificate[] {
  return (pem.toString().match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p));
}

test('first default and ROOTCA decode to Secrets whose chain verifies and whose key matches; ACK and NACK are not answered; a second stream gets the same', async () => {
  const log = captureLogger();
  const agent = await startAgent(await agentConfig(cp), { logger: log.logger });
  const c = sdsClient(agent.sds.socketPath);
  try {
    const s = c.stream();
    s.send({ node: { id: 'sidecar~test' }, resource_names: ['default'] });
    const res = await s.next();
    assert.equal(res.type_url, SECRET_TYPE_URL);
    assert.ok(res.version_info && res.nonce);
    const def = decodeSecret(res);
    assert.equal(def.name, 'default');
    const chain = certsOf(def.tls_certificate!.certificate_chain!.inline_bytes!);
    const key = createPrivateKey(def.tls_certificate!.private_key!.inline_bytes!);
    assert.ok(chain[0]!.publicKey.equals(createPublicKey(key)), 'key matches the leaf');
    assert.equal(chain[0]!.subjectAltName, 'URI:spiffe://cluster.local/ns/shop/sa/web');

    const r = c.stream();
    r.send({ resource_names: ['ROOTCA'] });
    const rootRes = await r.next();
    const roots = certsOf(decodeSecret(rootRes).validation_context!.trusted_ca!.inline_bytes!);
    assert.ok(roots.length >= 1);
    for (let i = 0; i + 1 < chain.length; i++) assert.ok(chain[i]!.verify(chain[i + 1]!.publicKey));
    assert.ok(roots.some((root) => chain[chain.length - 1]!.verify(root.publicKey)), 'chain verifies against the roots');

    s.send({ resource_names: ['default'], version_info: res.version_info, response_nonce: res.nonce });
    await s.silence(200);
    s.send({ resource_names: ['default'], version_info: '', response_nonce: res.nonce, error_detail: { code: 3, message: 'bad cert from test' } });
    await s.silence(200);
    const nack = log.lines().find((l) => l.msg === 'proxy rejected (NACK) the SDS response');
    assert.equal(nack?.error, 'bad cert from test');

    const s2 = c.stream();
    s2.send({ resource_names: ['default', 'ROOTCA'] });
    const [a, b] = [await s2.next(), await s2.next()];
    assert.equal(decodeSecret(a).name, 'default');
    assert.equal(a.version_info, res.version_info);
    assert.deepEqual(decodeSecret(a), def);
    assert.equal(decodeSecret(b).name, 'ROOTCA');
    assert.notEqual(a.nonce, b.nonce);
    assert.equal(agent.sds.streamCount, 3);
  } finally {
    c.close();
    await agent.stop();
  }
});

test('a renewal is pushed on the open stream with a new version and a new key; stale nonces are ignored', async () => {
  const timers = new ManualTimers();
  const agent = await startAgent(await agentConfig(cp, { ttlSeconds: 10 }), { timers });
  timers.fireLongest();
  await agent.ready();
  const c = sdsClient(agent.sds.socketPath);
  try {
    const s = c.stream();
    s.send({ resource_names: ['default'] });
    const first = await s.next();
    s.send({ resource_names: ['default'], version_info: first.version_info, response_nonce: first.nonce });
    const cert = new X509Certificate(decodeSecret(first).tls_certificate!.certificate_chain!.inline_bytes!);
    assert.ok(Date.parse(cert.validTo) - Date.now() <= 11_000, 'short TTL honoured');

    const waited = timers.fireLongest();
    assert.ok(waited > 2_000 && waited < 8_000, `renewal at about half of 10s, got ${waited} ms`);
    const pushed = await s.next();
    assert.notEqual(pushed.version_info, first.version_info);
    assert.notEqual(pushed.nonce, first.nonce);
    const k1 = decodeSecret(first).tls_certificate!.private_key!.inline_bytes!.toString();
    const k2 = decodeSecret(pushed).tls_certificate!.private_key!.inline_bytes!.toString();
    assert.notEqual(k1, k2, 'a new key each rotation');

    s.send({ resource_names: ['default'], response_nonce: first.nonce, error_detail: { message: 'late NACK of an old response' } });
    await s.silence(150);
    assert.equal(agent.metrics.sdsNacks.values.get('') ?? 0, 0, 'stale NACK ignored');
  } finally {
    c.close();
    await agent.stop();
  }
});

test('a CA outage during renewal keeps the old SVID served and recovers when the CA returns', async () => {
  const timers = new ManualTimers();
  const proxy = await outageProxy(cp.caUrl);
  const config = { ...(await agentConfig(cp, { ttlSeconds: 10 })), caUrl: proxy.url };
  const agent = await startAgent(config, { timers });
  timers.fireLongest();
  await agent.ready();
  const before = agent.store.current()!;
  const c = sdsClient(agent.sds.socketPath);
  try {
    proxy.down = true;
    timers.fireLongest();
    await waitFor(async () => agent.metrics.renewals.values.has('ca_unreachable'), 5000, async () => JSON.stringify([[...agent.metrics.renewals.values], timers.pending.map((p) => p.ms)]));
    assert.equal(agent.store.current(), before, 'old SVID still held');
    const s = c.stream();
    s.send({ resource_names: ['default'] });
    assert.equal((await s.next()).version_info, agent.store.svidVersion());
    const retry = timers.pending.find((p) => p.ms < 5000);
    assert.ok(retry, 'a retry is scheduled before expiry');
    proxy.down = false;
    timers.fireLongest();
    const pushed = await s.next();
    assert.notEqual(agent.store.current(), before);
    assert.equal(pushed.version_info, agent.store.svidVersion());
  } finally {
    c.close();
    await agent.stop();
    await proxy.close();
  }
});

test('an expired SVID is never served, and readiness drops', async () => {
  let skew = 0;
  const clock = { now: () => Date.now() + skew };
  const timers = new ManualTimers();
  const agent = await startAgent(await agentConfig(cp, { ttlSeconds: 10 }), { timers, clock });
  timers.fireLongest();
  await agent.ready();
  const ready = () => fetch(`http://127.0.0.1:${agent.healthPort}/healthz/ready`).then((r) => r.status);
  assert.equal(await ready(), 200);
  skew = 60_000;
  const c = sdsClient(agent.sds.socketPath);
  try {
    const s = c.stream();
    s.send({ resource_names: ['default', 'ROOTCA'] });
    assert.equal(decodeSecret(await s.next()).name, 'ROOTCA');
    await s.silence(200);
    assert.equal(await ready(), 503);
  } finally {
    c.close();
    await agent.stop();
  }
});

test('FetchSecrets and DeltaSecrets are UNIMPLEMENTED; malformed requests end only their own stream', async () => {
  const log = captureLogger();
  const agent = await startAgent(await agentConfig(cp), { logger: log.logger });
  await agent.ready();
  const c = sdsClient(agent.sds.socketPath);
  try {
    const client = c.client as unknown as Record<string, (...a: unknown[]) => grpc.ClientDuplexStream<unknown, unknown>>;
    const fetchErr = await new Promise<grpc.ServiceError>((resolve) => client.FetchSecrets!({ resource_names: ['default'] }, (err: grpc.ServiceError) => resolve(err)));
    assert.equal(fetchErr.code, grpc.status.UNIMPLEMENTED);
    const delta = client.DeltaSecrets!();
    delta.on('error', () => undefined);
    delta.write({});
    const deltaStatus = await new Promise<grpc.StatusObject>((resolve) => delta.on('status', resolve));
    assert.equal(deltaStatus.code, grpc.status.UNIMPLEMENTED);

    const wrong = c.stream();
    wrong.send({ type_url: 'type.googleapis.com/envoy.config.cluster.v3.Cluster', resource_names: ['default'] });
    assert.equal((await wrong.status).code, grpc.status.INVALID_ARGUMENT);

    // Bytes that are not a DiscoveryRequest, on the wire of the real method.
    const raw = new grpc.Client(`unix://${agent.sds.socketPath}`, grpc.credentials.createInsecure());
    const garbage = raw.makeBidiStreamRequest('/envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets', (b: Buffer) => b, (b: Buffer) => b);
    garbage.on('error', () => undefined);
    garbage.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]));
    const garbageStatus = await new Promise<grpc.StatusObject>((resolve) => garbage.on('status', resolve));
    assert.notEqual(garbageStatus.code, grpc.status.OK);
    raw.close();

    const ok = c.stream();
    ok.send({ resource_names: ['default'] });
    assert.equal(decodeSecret(await ok.next()).name, 'default', 'the server still serves');
    assert.ok(log.lines().some((l) => l.msg === 'malformed SDS request; ending the stream'));
  } finally {
    c.close();
    await agent.stop();
  }
});

test('the socket is owner-only, replaces a stale file, and is removed on stop', async () => {
  const config = await agentConfig(cp);
  await writeFile(config.sdsSocket, 'stale');
  const agent = await startAgent(config);
  const st = await stat(config.sdsSocket);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o600);
  await agent.stop();
  await assert.rejects(stat(config.sdsSocket), /ENOENT/);
  await assert.rejects(new Promise((resolve, reject) => connect(config.sdsSocket).on('connect', resolve).on('error', reject)));
});

async function waitFor(cond: () => Promise<boolean>, ms = 5000, describe?: () => Promise<string>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`condition not met in time ${describe ? await describe() : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a trust bundle change (root rotation) pushes ROOTCA at once; /metrics and /app-health answer on the status port', async () => {
  const config = { ...(await agentConfig(cp)), appProbesJson: JSON.stringify({ '/app-health/app/readyz': { tcpSocket: { port: 1 } } }) };
  const agent = await startAgent(config);
  await agent.ready();
  const c = sdsClient(agent.sds.socketPath);
  try {
    const s = c.stream();
    s.send({ resource_names: ['ROOTCA'] });
    const first = await s.next();
    s.send({ resource_names: ['ROOTCA'], response_nonce: first.nonce, version_info: first.version_info });
    const extra = agent.store.current()!.chainPem[1]!; // any other certificate stands in for a new root
    agent.store.setBundle([...agent.store.roots(), extra]);
    const pushed = await s.next();
    assert.notEqual(pushed.version_info, first.version_info);
    assert.equal(certsOf(decodeSecret(pushed).validation_context!.trusted_ca!.inline_bytes!).length, 2);

    const metrics = await (await fetch(`http://127.0.0.1:${agent.statusPort}/metrics`)).text();
    assert.match(metrics, /meshid_agent_renewals_total\{result="success"\} 1/);
    assert.match(metrics, /meshid_agent_sds_streams 1/);
    assert.match(metrics, /meshid_agent_sds_pushes_total\{resource="ROOTCA"\} 2/);
    assert.match(metrics, /meshid_agent_cert_expiry_timestamp_seconds \d+/);
    assert.match(metrics, /# TYPE meshid_agent_renewals_total counter/);
    agent.store.setBundle(agent.store.roots().slice(0, 1));
    await s.next();
    const again = await (await fetch(`http://127.0.0.1:${agent.statusPort}/metrics`)).text();
    assert.match(again, /meshid_agent_renewals_total\{result="success"\} 1\n/, 'a second scrape counts nothing twice');
    assert.match(again, /meshid_agent_sds_pushes_total\{resource="ROOTCA"\} 3\n/, 'and sees what happened since');
    const probe = await fetch(`http://127.0.0.1:${agent.statusPort}/app-health/app/readyz`);
    assert.equal(probe.status, 503);
    assert.equal((await fetch(`http://127.0.0.1:${agent.statusPort}/app-health/app/livez`)).status, 404);
  } finally {
    c.close();
    await agent.stop();
  }
});
