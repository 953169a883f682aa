import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { realTimers } from '../../src/agent/timers.js';
import { ViewClient } from '../../src/agent/view-client.js';
import { parseAgentConfig } from '../../src/cli/agent.js';
import { issueServingCert } from '../../src/controlplane/serving-cert.js';
import { makeCa } from '../helpers/ca-material.js';
import { waitFor } from '../helpers/wait.js';
import { captureLogger } from './helpers.js';

const full = {
  version: 'e1:1', full: true, trustDomain: 'cluster.local', rootNamespace: 'meshid-system',
  pod: { namespace: 'shop', name: 'web-1', serviceAccount: 'web', labels: {}, ips: ['10.0.0.1'] },
  upserts: [{ address: '10.0.0.2', port: null, identities: ['spiffe://cluster.local/ns/shop/sa/cart'] }], removes: [],
};

describe('the agent\'s view client against a control plane that misbehaves (real HTTPS)', () => {
  let server: Server;
  let roots: string[];
  let answer: (url: URL) => { status: number; body: string };
  const seen: string[] = [];
  before(async () => {
    const { material } = makeCa();
    roots = material.roots;
    const cert = issueServingCert(material, { dnsNames: ['localhost'], ips: ['127.0.0.1'], now: Date.now(), ttlMs: 3_600_000, random: randomBytes });
    server = createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
      const url = new URL(req.url!, 'https://x');
      seen.push(url.search);
      const a = answer(url);
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(a.body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
  after(() => new Promise((r) => server.close(r)));

  it('keeps the last good view through garbage, errors and a delta it cannot apply; one warning per outage', async () => {
    let step = 0;
    const script = [
      () => ({ status: 200, body: JSON.stringify(full) }),
      () => ({ status: 200, body: '{not json' }),
      () => ({ status: 200, body: JSON.stringify({ version: 1, upserts: 'all' }) }),
      () => ({ status: 500, body: JSON.stringify({ error: { code: 'internal_error', message: 'x' } }) }),
      () => ({ status: 200, body: JSON.stringify({ version: 'other:5', full: false, upserts: [], removes: [] }) }),
      () => ({ status: 200, body: JSON.stringify({ ...full, version: 'e1:2', upserts: [...full.upserts, { address: '10.0.0.3', port: null, identities: ['spiffe://cluster.local/ns/shop/sa/db'] }] }) }),
    ];
    answer = () => (step < script.length ? script[step++]!() : { status: 204, body: '' });
    const log = captureLogger();
    const client = new ViewClient({
      caUrl: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, trustedRoots: async () => roots, trustSource: 'test roots',
      token: async () => 'a.b.c', pod: 'web-1', timers: realTimers, random: () => 0, logger: log.logger, backoff: { baseMs: 10, maxMs: 20 }, waitSeconds: 1,
    });
    client.start();
    await waitFor(() => client.current() !== null, { what: 'the first view' });
    const first = client.current();
    await waitFor(() => step >= 4, { what: 'the bad answers' });
    assert.deepEqual(client.current(), first, 'the last good view stays through bad answers');
    await waitFor(() => client.current()?.version === 'e1:2', { what: 'the full view asked for after a delta that could not apply' });
    assert.equal(client.current()!.destinations.length, 2);
    await client.stop();
    const warnings = log.lines().filter((l) => l.level === 40).map((l) => String(l.msg));
    assert.equal(warnings.filter((m) => m.startsWith('cannot get the mesh view')).length, 1, `one warning for the outage:\n${warnings.join('\n')}`);
    assert.ok(warnings.some((m) => m.includes('did not apply')), 'the delta that could not apply is logged');
    assert.ok(seen.some((q) => q.includes('since=e1%3A1')), 'polls name the version held');
    assert.ok(!seen.at(-1)!.includes('since=other'), 'after a delta that did not apply, a full view is asked for');
  });

  it('the pod name comes from --pod-name or POD_NAME, and a bad one is refused in one line', () => {
    const env = { POD_NAMESPACE: 'shop', SERVICE_ACCOUNT: 'web', CA_ADDR: 'meshid.meshid-system.svc:15012' };
    const ok = parseAgentConfig([], { ...env, POD_NAME: 'web-1' });
    assert.ok('config' in ok && ok.config.podName === 'web-1');
    const none = parseAgentConfig([], env);
    assert.ok('config' in none && none.config.podName === undefined, 'no pod name: the view is not followed');
    assert.throws(() => parseAgentConfig(['--pod-name', 'Web_1'], env), /--pod-name \(or POD_NAME\) "Web_1" is not a Kubernetes pod name/);
  });
});
