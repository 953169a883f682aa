import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { opensslVerify } from '../helpers/openssl.js';
import { waitFor } from '../helpers/wait.js';
import { Children, startServe } from './children.js';
import { HandshakeLoop, type Attempt, type Workload } from './handshake-loop.js';
import { anchorOf, certsOf, SdsFollower } from './sds-follower.js';

/**
 * Leaves live 10s (the shortest allowed), so the old CA's last leaf is gone 10s (+1s recorded ahead) + the 12s
 * retire margin after activation, though workloads may ask for up to 2m. The propagation delay must cover the agents' 5s poll of the mounted bundle: that is what lets
 * every peer trust the new root before anything chains to it, whenever its own renewal happens to fall.
 */
const TTL = '10s';
/** Far above what any leaf here gets: retire follows the leaves actually issued, not this (12s margin at 2m). */
const MAX_TTL = '2m';
// Above the agents' bundle poll below, so each sees the new root before it signs.
const PROPAGATION = '3s';
const BUNDLE_POLL = '500ms';
const HANDSHAKE_EVERY_MS = 400;
const STEPS = ['prepare', 'published', 'activate', 'retire', 'idle'] as const;

test('meshid ca rotate-root --wait under two running agents: every mTLS handshake between them succeeds, and both end on the new root alone', { timeout: 180_000 }, async (t) => {
  const children = new Children();
  const dir = await mkdtemp(join(tmpdir(), 'e2e-'));
  const followers: SdsFollower[] = [];
  let loop: HandshakeLoop | undefined;
  t.after(async () => {
    await loop?.stop();
    for (const f of followers) f.close();
    await children.killAll();
    await rm(dir, { recursive: true, force: true });
  });
  const t0 = Date.now();
  const s = (from: number, to: number) => `${((to - from) / 1000).toFixed(1)}s`;
  const data = join(dir, 'ca');
  const { serve, caUrl, trustBundle } = await startServe(children, data, ['--workload-cert-ttl', TTL, '--max-workload-cert-ttl', MAX_TTL, '--bundle-propagation-delay', PROPAGATION]);
  const serveUp = Date.now();
  assert.equal(trustBundle, join(data, 'root-cert.pem'));
  const [oldRoot, ...more] = certsOf(await readFile(trustBundle, 'utf8'));
  assert.ok(oldRoot && more.length === 0, 'one root before the rotation');

  const identities = [{ ns: 'shop', sa: 'cart' }, { ns: 'pay', sa: 'ledger' }];
  const tokens: string[] = [];
  // Both workloads come up at once, as two pods would; each child pays node's start-up, so nothing waits in turn.
  const agents = await Promise.all(identities.map(async ({ ns, sa }) => {
    const token = await children.run(`token ${sa}`, ['token', '--namespace', ns, '--service-account', sa, '--data-dir', data]);
    assert.equal(token.code, 0, token.stderr);
    tokens.push(token.stdout.trim());
    const tokenFile = join(dir, `${sa}.token`);
    await writeFile(tokenFile, token.stdout, { mode: 0o600 });
    const socket = join(dir, `${sa}.sock`);
    // Two agents on one host: every port picked by the OS, as a second pod on a node would get its own.
    const proc = children.start(`agent ${sa}`, [
      'agent', '--ca-addr', caUrl, '--ca-root', trustBundle, '--token-file', tokenFile, '--namespace', ns, '--service-account', sa,
      '--trust-domain', 'cluster.local', '--sds-socket', socket, '--workload-socket', join(dir, `${sa}.workload.sock`), '--cert-ttl', TTL, '--status-port', '0', '--health-port', '0',
      '--bundle-poll-interval', BUNDLE_POLL,
    ]);
    await proc.until(() => existsSync(socket), 'its SDS socket');
    const sds = new SdsFollower(proc.name, socket);
    followers.push(sds);
    const workload: Workload = { spiffeId: `spiffe://cluster.local/ns/${ns}/sa/${sa}`, sds };
    await waitFor(() => sds.svid !== null && sds.roots !== null, { timeoutMs: 20_000, what: `${proc.name}: default and ROOTCA over SDS` });
    assert.equal(sds.svid!.chain[0]!.subjectAltName, `URI:${workload.spiffeId}`);
    await proc.until(() => proc.logs().some((l) => l.msg === 'agent started'), 'its "agent started" line');
    const { healthPort } = proc.logs().find((l) => l.msg === 'agent started') as { healthPort: number };
    assert.equal(await httpStatus(`http://127.0.0.1:${healthPort}/healthz/ready`), 200, 'ready once it holds an SVID');
    return { proc, socket, workload };
  }));
  const agentsUp = Date.now();

  loop = new HandshakeLoop(agents[0]!.workload, agents[1]!.workload, HANDSHAKE_EVERY_MS);
  loop.start();
  await waitFor(() => loop!.attempts.length >= 3, { timeoutMs: 20_000, what: 'handshakes before the rotation' });

  const rotation = await children.run('rotate-root', ['ca', 'rotate-root', '--wait', '--data-dir', data], 150_000);
  assert.equal(rotation.code, 0, rotation.stderr);
  const out = rotation.lines.map((l) => l.line);
  const at = (re: RegExp) => out.findIndex((l) => re.test(l));
  const requested = at(/^root rotation \S+ requested in /);
  const prepare = at(/^rotation: prepare \(\S+\): /);
  const activate = at(/^rotation: activate \(\S+\): leaves signed by the old CA to expire, then the old root is retired, \S+ left; retire expected at \S+$/);
  const retire = at(/^rotation: retire \(\S+\): /);
  const complete = at(/^root rotation \S+ complete: the new root is the only trusted root and the new CA signs$/);
  assert.ok(requested === 0 && prepare > requested && activate > prepare && retire > activate && complete === out.length - 1, `rotate-root output in order:\n${rotation.stdout}`);

  // The control plane's own record of each step, with its time: the phase boundaries of this run.
  const stepAt = new Map<string, number>();
  for (const l of serve.logs()) if (l.component === 'ca-rotation' && typeof l.step === 'string') stepAt.set(l.step, l.time!);
  assert.deepEqual([...stepAt.keys()], [...STEPS], 'serve took every step once, in order');
  assert.match(String(serve.logs().find((l) => l.step === 'retire')?.msg), /^old root removed from the trust bundle/);
  // Retired when the old CA's last leaf (10s) had expired, not at activation + the 2m a workload could have asked for.
  const expected = Date.parse(/retire expected at (\S+)$/.exec(out[activate]!)![1]!);
  const activeFor = stepAt.get('retire')! - stepAt.get('activate')!;
  assert.ok(activeFor >= 12_000 && activeFor < 30_000, `retired ${activeFor} ms after activation`);
  assert.ok(Math.abs(stepAt.get('retire')! - expected) < 2_000, `retired ${stepAt.get('retire')! - expected} ms from the expected time`);

  const bundleAfter = certsOf(await readFile(trustBundle, 'utf8'));
  assert.equal(bundleAfter.length, 1, 'one root after the rotation');
  const newRoot = bundleAfter[0]!;
  assert.notEqual(newRoot.fingerprint256, oldRoot.fingerprint256);

  // Each agent follows by itself: the retired bundle reaches it by the mounted file or its next renewal.
  for (const { workload: w } of agents) {
    await waitFor(
      () => w.sds.roots!.certs.length === 1 && w.sds.roots!.certs[0]!.fingerprint256 === newRoot.fingerprint256 && anchorOf(w.sds.svid!.chain, [newRoot]) !== null,
      { timeoutMs: 30_000, what: `${w.sds.name} to hold a new-CA leaf and only the new root in ROOTCA` },
    );
  }
  const settled = Date.now();
  await waitFor(() => loop!.attempts.filter((a) => a.at > settled).length >= 3, { timeoutMs: 20_000, what: 'handshakes after the agents settled on the new root' });
  await loop.stop();

  const attempts = loop.attempts;
  const failed = attempts.filter((a) => !a.ok);
  assert.deepEqual(failed.map((a) => describeAttempt(a, stepAt, oldRoot.fingerprint256)), [], 'every handshake succeeded');
  assert.deepEqual(followers.flatMap((f) => f.problems), [], 'every SDS push was valid: matching key, unexpired leaf');
  const phaseOf = (a: Attempt) => phaseAt(a.at, stepAt);
  const count = (phase: string) => attempts.filter((a) => phaseOf(a) === phase).length;
  const anchors = (a: Attempt) => [a.serverAnchor, a.clientAnchor].sort().join(' ');
  const mixed = attempts.filter((a) => anchors(a) === [oldRoot.fingerprint256, newRoot.fingerprint256].sort().join(' ')).length;
  assert.ok(attempts.length >= 40, `${attempts.length} handshakes`);
  for (const phase of ['before', 'prepare', 'activate', 'after retire']) assert.ok(count(phase) >= 3, `${count(phase)} handshakes in ${phase}`);
  const bothNew = attempts.filter((a) => a.serverAnchor === newRoot.fingerprint256 && a.clientAnchor === newRoot.fingerprint256).length;
  assert.ok(bothNew >= 3);

  // The order that makes it outage-free, on what each proxy was actually sent: a peer trusts the new root
  // before any leaf chains to it, and drops the old root only after the last old-CA leaf was replaced.
  const margins: string[] = [];
  const firstNewLeaves: number[] = [];
  for (const [x, y] of [[agents[0]!, agents[1]!], [agents[1]!, agents[0]!]]) {
    const leaves = x.workload.sds.leafHistory;
    const firstNewLeaf = leaves.find((h) => anchorOf(h.chain, [newRoot]))?.at;
    const oldReplacedAt = leaves[leaves.findLastIndex((h) => anchorOf(h.chain, [oldRoot])) + 1]?.at;
    const trustsNew = y.workload.sds.rootsHistory.find((h) => h.fingerprints.includes(newRoot.fingerprint256))?.at;
    const dropsOld = y.workload.sds.rootsHistory.find((h) => h.at > trustsNew! && !h.fingerprints.includes(oldRoot.fingerprint256))?.at;
    assert.ok(firstNewLeaf && oldReplacedAt && trustsNew && dropsOld, `${x.proc.name} got a new-CA leaf, ${y.proc.name} trusted the new root and dropped the old one`);
    assert.ok(trustsNew < firstNewLeaf, `${y.proc.name} trusted the new root ${firstNewLeaf - trustsNew} ms before ${x.proc.name} served a leaf under it`);
    assert.ok(oldReplacedAt < dropsOld, `${y.proc.name} dropped the old root after ${x.proc.name} replaced its last old-CA leaf`);
    // Never without a valid leaf: each one arrived before the one it replaced expired.
    for (let i = 1; i < leaves.length; i++) {
      assert.ok(leaves[i]!.at < Date.parse(leaves[i - 1]!.chain[0]!.validTo), `${x.proc.name}: leaf ${i} arrived after leaf ${i - 1} expired`);
    }
    firstNewLeaves.push(firstNewLeaf);
    margins.push(`${y.proc.name} trusted the new root ${s(trustsNew, firstNewLeaf)} before ${x.proc.name}'s first new-CA leaf and dropped the old root ${s(oldReplacedAt, dropsOld)} after its last old-CA leaf was replaced`);
  }
  // The first new-CA leaf is tried at once, so an old-and-new pairing that lasted was handshaken across.
  const mixedWindowMs = Math.abs(firstNewLeaves[0]! - firstNewLeaves[1]!);
  if (mixedWindowMs >= 1000) assert.ok(mixed >= 1, `no handshake between an old-CA and a new-CA leaf in the ${mixedWindowMs} ms they coexisted`);

  const status = await children.run('ca status', ['ca', 'status', '--data-dir', data]);
  assert.equal(status.code, 0, status.stderr);
  const rootRows = status.stdout.split('\n').filter((l) => l.startsWith('root '));
  assert.equal(rootRows.length, 1, status.stdout);
  assert.ok(rootRows[0]!.includes(newRoot.fingerprint256.slice(0, 23)), status.stdout);
  assert.match(status.stdout, /\nsigning\s+O=cluster\.local, CN=meshid signing CA/);
  assert.match(status.stdout, /rotation: idle \(\S+\): last rotation completed/);

  for (const { workload: w } of agents) {
    const [leaf, ...intermediates] = w.sds.svid!.chain;
    assert.ok(anchorOf(w.sds.svid!.chain, [newRoot]), `${w.sds.name}: chain verifies to the new root (X509Certificate.verify)`);
    assert.equal(anchorOf(w.sds.svid!.chain, [oldRoot]), null);
    assert.ok(!w.sds.roots!.certs.some((r) => r.fingerprint256 === oldRoot.fingerprint256), `${w.sds.name}: old root gone from ROOTCA`);
    const chainPems = intermediates.map((c) => c.toString());
    assert.equal(await opensslVerify(leaf!.toString(), chainPems, newRoot.toString(), 'sslserver'), 'leaf.pem: OK');
    await assert.rejects(opensslVerify(leaf!.toString(), chainPems, oldRoot.toString(), 'sslserver'), /unable to get local issuer certificate/);
  }

  // SIGTERM: each agent ends its streams, removes its socket and exits 0; then the control plane.
  const stopping = Date.now();
  for (const a of agents) {
    const exit = await a.proc.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, a.proc.stderr.slice(-1000));
    assert.ok(!existsSync(a.socket), `${a.proc.name} removed ${a.socket}`);
    await waitFor(() => a.workload.sds.ended !== null, { timeoutMs: 5000, what: `${a.proc.name}: the SDS stream to end` });
    assert.match(a.proc.stderr, /"msg":"agent stopped"/);
  }
  assert.deepEqual(await serve.stop('SIGTERM'), { code: 0, signal: null }, serve.stderr.slice(-1000));
  const warnings = agents.flatMap((a) => a.proc.logs().filter((l) => Number(l.level) >= 40).map((l) => `${a.proc.name}: ${l.msg}`));
  assert.deepEqual(warnings, [], 'no agent renewal failed or warned during the rotation');
  for (const c of [serve, ...agents.map((a) => a.proc)]) {
    for (const token of tokens) assert.ok(!c.stderr.includes(token), `${c.name} logged no token`);
    assert.ok(!c.stderr.includes('PRIVATE KEY'), `${c.name} logged no private key`);
  }

  t.diagnostic(`timeline: serve up ${s(t0, serveUp)}, agents serving ${s(serveUp, agentsUp)} later; prepare ${s(stepAt.get('prepare')!, stepAt.get('activate')!)} (published after ${s(stepAt.get('prepare')!, stepAt.get('published')!)}); activate ${s(stepAt.get('activate')!, stepAt.get('retire')!)}; retire→idle ${s(stepAt.get('retire')!, stepAt.get('idle')!)}; agents on the new root alone ${s(stepAt.get('idle')!, settled)} after idle; shutdown ${s(stopping, Date.now())}; total ${s(t0, Date.now())}`);
  t.diagnostic(`handshakes: ${attempts.length} (before ${count('before')}, prepare ${count('prepare')}, activate ${count('activate')}, after retire ${count('after retire')}), old-CA leaf with new-CA leaf ${mixed} (coexisted ${s(0, mixedWindowMs)}), both new ${bothNew}, failed ${failed.length}; SDS pushes ${followers.map((f) => `${f.name} ${f.pushes}`).join(', ')}`);
  t.diagnostic(margins.join('; '));
});

function phaseAt(at: number, stepAt: Map<string, number>): string {
  if (at < stepAt.get('prepare')!) return 'before';
  if (at < stepAt.get('activate')!) return 'prepare';
  if (at < stepAt.get('retire')!) return 'activate';
  return 'after retire';
}

function describeAttempt(a: Attempt, stepAt: Map<string, number>, oldFp: string): string {
  const name = (fp: string) => (fp === oldFp ? 'old' : fp === 'none' ? 'none' : `new(${fp.slice(0, 11)})`);
  return `${new Date(a.at).toISOString()} [${phaseAt(a.at, stepAt)}] ${a.server} (leaf→${name(a.serverAnchor)}, trusts ${a.serverTrusts.map(name)}) ⇄ ${a.client} (leaf→${name(a.clientAnchor)}, trusts ${a.clientTrusts.map(name)}): ${a.error}`;
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => get(url, (res) => {
    res.resume();
    resolve(res.statusCode ?? 0);
  }).on('error', reject));
}
