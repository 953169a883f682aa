import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { ControlPlane } from '../../src/controlplane/start.js';
import { issueServingCert } from '../../src/controlplane/serving-cert.js';
import { mintLocalToken } from '../../src/ca/auth/local-issuer.js';
import { fetchOnce, startAgent } from '../../src/agent/agent.js';
import { generateKeyPair, privateKeyPem } from '../../src/pki/keys.js';
import { verifyIssued } from '../../src/agent/svid.js';
import { agentConfig, captureLogger, ManualTimers, startCa } from './helpers.js';

let cp: ControlPlane;
before(async () => {
  cp = await startCa();
});
after(async () => {
  await cp.close();
});

/** An HTTPS "CA" with a serving certificate from the real CA, so the agent trusts it, answering what the test says. */
async function fakeCa(answer: (body: string) => Promise<{ status: number; body: string }>): Promise<{ url: string; server: Server }> {
  const cert = issueServingCert(cp.authority.current(), { dnsNames: ['localhost'], ips: ['127.0.0.1'], now: Date.now(), ttlMs: 3_600_000, random: randomBytes });
  const server = createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', async () => {
      const a = await answer(body);
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

function assertNoSecrets(lines: Array<Record<string, unknown>>, token: string, keyPem: string): void {
  const text = JSON.stringify(lines);
  assert.ok(!text.includes(token.slice(20, 60)), 'token never logged');
  assert.ok(!text.includes('PRIVATE KEY') && !text.includes(keyPem.slice(40, 80)), 'key never logged');
  assert.ok(!text.includes('CERTIFICATE REQUEST'), 'CSR never logged');
}

test('token file missing, empty or garbage: clear errors, no crash, the last good SVID kept', async () => {
  const log = captureLogger();
  const timers = new ManualTimers();
  const config = await agentConfig(cp);
  const token = await mintLocalToken({ dataDir: cp.dataDir, namespace: 'shop', serviceAccount: 'web' });
  const agent = await startAgent(config, { timers, logger: log.logger });
  timers.fireLongest();
  await agent.ready();
  const good = agent.store.current()!;
  try {
    const cases: Array<[string, () => Promise<void>, RegExp]> = [
      ['missing', () => rm(config.tokenFile), /cannot read the token file .* \(ENOENT\)/],
      ['empty', () => writeFile(config.tokenFile, '\n'), /token file .* is empty/],
      ['garbage', () => writeFile(config.tokenFile, 'not a jwt at all'), /does not hold a JWT/],
      ['expired-looking JWT the CA refuses', () => writeFile(config.tokenFile, 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.x'), /the CA refused the request \(HTTP 401/],
    ];
    for (const [name, breakIt, expected] of cases) {
      await breakIt();
      const before = log.lines().length;
      await timers.fireWhenScheduled();
      while (log.lines().length === before || !log.lines().slice(before).some((l) => /SVID fetch failed/.test(String(l.msg)))) await new Promise((r) => setTimeout(r, 5));
      const line = log.lines().slice(before).find((l) => /SVID fetch failed/.test(String(l.msg)))!;
      assert.match(String(line.msg), expected, name);
      assert.match(String(line.msg), /still serving the current SVID/);
      assert.equal(agent.store.current(), good, `${name}: last good SVID kept`);
    }
    await writeFile(config.tokenFile, token);
    await timers.fireWhenScheduled();
    while (agent.store.current() === good) await new Promise((r) => setTimeout(r, 5));
    assertNoSecrets(log.lines(), token, good.keyPem);
  } finally {
    await agent.stop();
  }
});

test('a CA answering garbage or a wrong identity is refused with a clear error; the last good SVID is kept', async () => {
  const other = await fetchOnce(await agentConfig(cp, { serviceAccount: 'admin' }));
  const modes: Record<string, (body: string) => Promise<{ status: number; body: string }>> = {
    'not JSON': async () => ({ status: 200, body: '<html>oops' }),
    'JSON without certificates': async () => ({ status: 200, body: JSON.stringify({ certChain: ['junk'], trustBundle: [] }) }),
    'an error body': async () => ({ status: 503, body: JSON.stringify({ error: { code: 'ca_not_ready', message: 'try later' } }) }),
    // A genuine SVID from the real CA, but for another service account.
    'a wrong identity': async () => ({ status: 200, body: JSON.stringify({ certChain: other.chainPem, trustBundle: other.bundlePem }) }),
  };
  const expected: Record<string, RegExp> = {
    'not JSON': /not a JSON object/,
    'JSON without certificates': /certChain holds no PEM block|certChain/,
    'an error body': /HTTP 503, ca_not_ready\): try later/,
    'a wrong identity': /issued a certificate for spiffe:\/\/cluster.local\/ns\/shop\/sa\/admin, expected spiffe:\/\/cluster.local\/ns\/shop\/sa\/web/,
  };
  let mode = 'not JSON';
  const fake = await fakeCa((body) => modes[mode]!(body));
  const log = captureLogger();
  const timers = new ManualTimers();
  const config = await agentConfig(cp);
  const good = await fetchOnce(config);
  const agent = await startAgent({ ...config, caUrl: fake.url }, { timers, logger: log.logger });
  agent.store.setSvid(good);
  try {
    for (const m of Object.keys(modes)) {
      mode = m;
      const before = log.lines().length;
      await timers.fireWhenScheduled();
      while (!log.lines().slice(before).some((l) => /SVID fetch failed/.test(String(l.msg)))) await new Promise((r) => setTimeout(r, 5));
      const line = log.lines().slice(before).find((l) => /SVID fetch failed/.test(String(l.msg)))!;
      assert.match(String(line.msg), expected[m]!, m);
      assert.equal(agent.store.current(), good, `${m}: last good SVID kept`);
    }
    assertNoSecrets(log.lines(), await readFile((await agentConfig(cp)).tokenFile, 'utf8'), good.keyPem);
  } finally {
    await agent.stop();
    fake.server.close();
  }
});

test('an issued certificate that has already expired, or lacks our key, is refused', async () => {
  const config = await agentConfig(cp);
  const svid = await fetchOnce(config);
  const { publicKey, privateKey } = generateKeyPair();
  const res = { certChain: svid.chainPem, trustBundle: svid.bundlePem };
  const leafKey = (await import('node:crypto')).createPublicKey(svid.keyPem);
  assert.throws(() => verifyIssued(res, { spiffeId: svid.spiffeId, publicKey: leafKey, keyPem: svid.keyPem, now: svid.notAfter + 1 }), { code: 'expired_certificate' });
  assert.throws(() => verifyIssued(res, { spiffeId: svid.spiffeId, publicKey, keyPem: privateKeyPem(privateKey), now: Date.now() }), /does not carry the public key/);
  assert.throws(() => verifyIssued({ ...res, trustBundle: svid.chainPem.slice(1) }, { spiffeId: svid.spiffeId, publicKey: leafKey, keyPem: svid.keyPem, now: Date.now() }), { code: 'untrusted_chain' });
});
