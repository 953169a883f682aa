import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { Children, startServe } from '../e2e/children.js';
import { meshid } from '../helpers/cli.js';
import { openssl, tempDir } from '../helpers/openssl.js';

const SVID_FIELDS = ['source', 'spiffeId', 'serial', 'notBefore', 'notAfter', 'expired', 'renewal', 'intermediates', 'chainsTo', 'trustBundle'];

test('svid show reads the agent\'s files or asks its SDS socket as Envoy would, in text, json and yaml', { timeout: 60_000 }, async (t) => {
  const children = new Children();
  t.after(() => children.killAll());
  const dir = await tempDir('cli-svid-');
  const data = join(dir, 'ca');
  const { caUrl, trustBundle } = await startServe(children, data);
  const token = await children.run('token', ['token', '--namespace', 'shop', '--service-account', 'cart', '--data-dir', data]);
  await writeFile(join(dir, 'token'), token.stdout);
  const out = join(dir, 'svid');
  const sds = join(dir, 'sds.sock');
  const agent = children.start('agent', ['agent', '--ca-addr', caUrl, '--ca-root', trustBundle, '--token-file', join(dir, 'token'), '--namespace', 'shop',
    '--service-account', 'cart', '--sds-socket', sds, '--out-dir', out, '--status-port', '0', '--health-port', '0']);
  await agent.until(() => agent.logs().some((l) => l.msg === 'SVID installed') && existsSync(join(out, 'cert-chain.pem')), 'the SVID and its files');

  const leaf = new X509Certificate(await readFile(join(out, 'cert-chain.pem')));
  const root = new X509Certificate(await readFile(trustBundle));
  const fromFiles = await meshid(['svid', 'show', '--out-dir', out, '-o', 'json']);
  assert.equal(fromFiles.code, 0, fromFiles.stderr);
  const files = JSON.parse(fromFiles.stdout);
  assert.deepEqual(Object.keys(files), SVID_FIELDS);
  assert.equal(files.spiffeId, 'spiffe://cluster.local/ns/shop/sa/cart');
  assert.equal(files.serial, leaf.serialNumber.toLowerCase());
  assert.equal(files.notAfter, new Date(leaf.validTo).toISOString());
  assert.equal(files.chainsTo.fingerprintSha256, root.fingerprint256);
  assert.deepEqual(files.trustBundle.map((r: { fingerprintSha256: string }) => r.fingerprintSha256), [root.fingerprint256]);
  const life = Date.parse(files.notAfter) - Date.parse(files.notBefore);
  assert.ok(Date.parse(files.renewal.earliest) > Date.parse(files.notBefore) + 0.3 * life && Date.parse(files.renewal.latest) < Date.parse(files.notAfter) - 0.3 * life, 'renewal about half-way');

  const fromSds = await meshid(['svid', 'show', '--sds-socket', sds, '-o', 'yaml']);
  assert.equal(fromSds.code, 0, fromSds.stderr);
  assert.deepEqual({ ...parse(fromSds.stdout), source: '' }, { ...files, source: '' }, 'the socket serves what the files hold');
  assert.ok(!fromSds.stdout.includes('PRIVATE KEY'));

  const text = await meshid(['svid', 'show', '--sds-socket', sds]);
  assert.match(text.stdout, /^SPIFFE ID: +spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart\nserial: +[0-9a-f]+\nvalid: +\S+ to \S+ \(expires in 2[34]h\d\dm\)\nrenewal: +between \S+ and \S+ \(in \d+h\d\dm, default policy\)\n/);
  assert.match(text.stdout, new RegExp(`\\nchains to: +O=cluster\\.local, CN=meshid root CA \\S+ \\(${root.fingerprint256.slice(0, 23)}\\)\\n`));

  // A bundle that lacks the chain's root is what a trust break looks like: said, not hidden.
  const broken = join(dir, 'broken');
  await cp(out, broken, { recursive: true, dereference: true });
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'other.pem'), '-subj', '/CN=other', '-days', '1']);
  await writeFile(join(broken, 'root-cert.pem'), await readFile(join(dir, 'other.pem')));
  const unchained = await meshid(['svid', 'show', '--out-dir', broken]);
  assert.match(unchained.stdout, /\nchains to: +NO ROOT OF THE BUNDLE: peers will not trust it\n/);

  const cases: Array<[string[], string]> = [
    [['svid', 'show', '--sds-socket', join(dir, 'none.sock')], `meshid svid: no SDS socket at ${join(dir, 'none.sock')}: is the agent running, with this --sds-socket?`],
    [['svid', 'show', '--out-dir', dir], `meshid svid: no cert-chain.pem in ${dir}: is it the --out-dir of a running "meshid agent"?`],
    [['svid', 'show', '--out-dir', out, '--sds-socket', sds], 'meshid svid: --out-dir and --sds-socket exclude each other: the SVID is read from one place'],
    [['svid', 'show', '-o', 'xml'], 'meshid svid: -o "xml" is not an output format; use text, json, yaml'],
    [['svid', 'shwo'], 'meshid svid: unknown subcommand "shwo"; did you mean show? (see meshid svid --help)'],
  ];
  for (const [args, line] of cases) assert.equal((await meshid(args)).stderr, `${line}\n`, args.join(' '));
});

test('ca status -o json and -o yaml give the same report with stable field names', { timeout: 60_000 }, async (t) => {
  const children = new Children();
  t.after(() => children.killAll());
  const data = join(await tempDir('cli-status-'), 'ca');
  await startServe(children, data);
  const json = JSON.parse((await meshid(['ca', 'status', '--data-dir', data, '-o', 'json'])).stdout);
  const yaml = parse((await meshid(['ca', 'status', '--data-dir', data, '-o', 'yaml'])).stdout);
  assert.deepEqual(yaml, json);
  assert.deepEqual(Object.keys(json), ['store', 'jwtKeys', 'certificates', 'rotation']);
  assert.deepEqual(json.certificates.map((c: Record<string, unknown>) => Object.keys(c)), Array(2).fill(['role', 'subject', 'notBefore', 'notAfter', 'fingerprintSha256', 'active', 'expired', 'state']));
  assert.deepEqual(json.certificates.map((c: { role: string; active: boolean }) => [c.role, c.active]), [['root', true], ['signing', true]]);
  const root = new X509Certificate(await readFile(join(data, 'root-cert.pem')));
  assert.equal(json.certificates[0].fingerprintSha256, root.fingerprint256);
  assert.deepEqual(json.rotation, { phase: 'idle', id: null, waitingFor: 'no rotation has run', until: null, retireExpectedAt: null, publication: null });

  assert.equal((await meshid(['ca', 'rotate-root', '--data-dir', data])).code, 0);
  let preparing;
  for (const end = Date.now() + 20_000; preparing?.rotation.phase !== 'prepare'; await new Promise((r) => setTimeout(r, 300))) {
    assert.ok(Date.now() < end, `rotation still ${preparing?.rotation.phase} after 20s`);
    preparing = JSON.parse((await meshid(['ca', 'status', '--data-dir', data, '-o', 'json'])).stdout);
  }
  assert.equal(preparing.certificates.filter((c: { role: string }) => c.role === 'root').length, 2);
  assert.match(preparing.rotation.id, /\S/);
});
