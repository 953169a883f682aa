import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { lstat, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { ControlPlane } from '../../src/controlplane/start.js';
import { fetchOnce, startAgent } from '../../src/agent/agent.js';
import { uriSans } from '../../src/agent/svid.js';
import { agentConfig, ManualTimers, startCa } from './helpers.js';

let cp: ControlPlane;
let foreign: ControlPlane;
before(async () => {
  [cp, foreign] = await Promise.all([startCa(), startCa()]);
});
after(async () => {
  await Promise.all([cp.close(), foreign.close()]);
});

async function readSet(dir: string): Promise<{ chain: string; key: string; roots: string }> {
  // Resolve ..data once, as a reader that wants a consistent pair does.
  const data = join(dir, await readlink(join(dir, '..data')));
  const [chain, key, roots] = await Promise.all(['cert-chain.pem', 'key.pem', 'root-cert.pem'].map((f) => readFile(join(data, f), 'utf8')));
  return { chain: chain!, key: key!, roots: roots! };
}

test('--once writes cert-chain.pem, key.pem (0600) and root-cert.pem that match', async () => {
  const config = await agentConfig(cp, { outDir: true });
  const svid = await fetchOnce(config);
  const dir = config.outDir!;
  assert.equal((await stat(join(dir, 'key.pem'))).mode & 0o777, 0o600);
  assert.ok((await lstat(join(dir, 'cert-chain.pem'))).isSymbolicLink());
  const chain = await readFile(join(dir, 'cert-chain.pem'), 'utf8');
  const leaf = new X509Certificate(chain);
  assert.ok(leaf.publicKey.equals(createPublicKey(createPrivateKey(await readFile(join(dir, 'key.pem'))))));
  assert.deepEqual(uriSans(leaf), [svid.spiffeId]);
  assert.equal(await readFile(join(dir, 'root-cert.pem'), 'utf8'), await readFile(cp.trustBundlePath, 'utf8'));
});

test('the files change atomically with each rotation: a concurrent reader always sees a matching key and chain', async () => {
  const timers = new ManualTimers();
  const config = await agentConfig(cp, { outDir: true, ttlSeconds: 10 });
  const agent = await startAgent(config, { timers });
  timers.fireLongest();
  await agent.ready();
  const dir = config.outDir!;
  while (!(await stat(join(dir, 'key.pem')).catch(() => null))) await new Promise((r) => setTimeout(r, 10));
  let reads = 0;
  let stop = false;
  const reader = (async () => {
    while (!stop) {
      // A set two rotations old is removed; a reader that slow simply reads again.
      const set = await readSet(dir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? null : Promise.reject(err)));
      if (!set) continue;
      const leaf = new X509Certificate(set.chain);
      assert.ok(leaf.publicKey.equals(createPublicKey(createPrivateKey(set.key))), 'key matches chain');
      reads++;
    }
  })();
  try {
    const seen = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const version = agent.store.svidVersion();
      await timers.fireWhenScheduled();
      while (agent.store.svidVersion() === version || (await readFile(join(dir, 'cert-chain.pem'), 'utf8')) !== agent.store.current()!.chainPem.join('')) {
        await new Promise((r) => setTimeout(r, 10));
      }
      const leaf = new X509Certificate(await readFile(join(dir, 'cert-chain.pem'), 'utf8'));
      seen.add(leaf.serialNumber);
    }
    assert.equal(seen.size, 5, 'every rotation reached the files');
  } finally {
    stop = true;
    await reader;
    await agent.stop();
  }
  assert.ok(reads > 5);
});

test('mTLS: two agents with different service accounts handshake, each sees the other\'s SPIFFE ID; a foreign root is refused', async () => {
  const [a, b, f] = await Promise.all([
    fetchOnce(await agentConfig(cp, { namespace: 'shop', serviceAccount: 'frontend' })),
    fetchOnce(await agentConfig(cp, { namespace: 'shop', serviceAccount: 'backend' })),
    fetchOnce(await agentConfig(foreign, { namespace: 'shop', serviceAccount: 'frontend' })),
  ]);
  const peers: string[] = [];
  const server = createServer(
    { cert: b.chainPem.join(''), key: b.keyPem, ca: b.bundlePem, requestCert: true, rejectUnauthorized: true },
    (sock: TLSSocket) => {
      peers.push(uriSans(sock.getPeerX509Certificate()!)[0]!);
      sock.end('hello');
    },
  );
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const dial = (svid: typeof a) =>
    new Promise<string>((resolve, reject) => {
      const sock = connect({
        host: '127.0.0.1', port, cert: svid.chainPem.join(''), key: svid.keyPem, ca: svid.bundlePem,
        // SPIFFE peers are authenticated by URI SAN, not by host name.
        checkServerIdentity: (_host, cert) => (cert.subjectaltname === 'URI:spiffe://cluster.local/ns/shop/sa/backend' ? undefined : new Error(`unexpected peer ${cert.subjectaltname}`)),
      });
      sock.on('secureConnect', () => {
        const id = uriSans(sock.getPeerX509Certificate()!)[0]!;
        sock.on('data', () => undefined);
        sock.on('end', () => resolve(id));
      });
      sock.on('error', reject);
    });
  try {
    assert.equal(await dial(a), 'spiffe://cluster.local/ns/shop/sa/backend');
    assert.deepEqual(peers, ['spiffe://cluster.local/ns/shop/sa/frontend']);
    await assert.rejects(dial(f), /certificate|alert|ECONNRESET|socket/i);
    assert.equal(peers.length, 1, 'the foreign-root client was never accepted');
  } finally {
    server.close();
  }
});
