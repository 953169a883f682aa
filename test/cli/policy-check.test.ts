import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type CliResult, MAIN, meshid } from '../helpers/cli.js';
import { EXAMPLE } from '../policy/support.js';

const dir = mkdtempSync(join(tmpdir(), 'meshid-policy-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function withStdin(args: string[], input: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    // The CLI stops reading once input passes its limit; the rest of the write is refused, as intended.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

/** A failure is one line on stderr and never a stack trace. */
function assertCleanFailure(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stderr + r.stdout, /\n\s+at |Error:/, 'no stack trace');
  assert.match(r.stderr, pattern);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
}

const policy = (kind: string, name: string, spec: string) => `apiVersion: security.meshid.io/v1\nkind: ${kind}\nmetadata:\n  name: ${name}\n  namespace: default\nspec:\n${spec}`;

describe('meshid policy check (the shipped CLI, as a process)', () => {
  it('passes the bookinfo example: one ok line per object, exit 0', async () => {
    const r = await meshid(['policy', 'check', '-f', EXAMPLE]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), [
      'ok  PeerAuthentication meshid-system/default-mtls', 'ok  AuthorizationPolicy default/allow-nothing', 'ok  AuthorizationPolicy default/allow-productpage',
      'ok  AuthorizationPolicy default/allow-details', 'ok  AuthorizationPolicy default/allow-reviews', 'ok  AuthorizationPolicy default/allow-ratings',
    ]);
    assert.equal(r.stderr, '');
  });

  it('reads stdin with -f -', async () => {
    const r = await withStdin(['policy', 'check', '-f', '-'], policy('PeerAuthentication', 'strict', '  mtls:\n    mode: STRICT\n'));
    assert.deepEqual([r.code, r.stdout], [0, 'ok  PeerAuthentication default/strict\n']);
  });

  it('names the document and the field of each problem, reports other kinds as ignored, exits 1', async () => {
    const broken = file('broken.yaml', [
      policy('PeerAuthentication', 'good', '  mtls:\n    mode: PERMISSIVE\n'),
      policy('PeerAuthentication', 'typo', '  mtls:\n    mode: STRICTER\n'),
      policy('AuthorizationPolicy', 'bad-principal', '  rules:\n  - from:\n    - source:\n        principals: ["x y"]\n'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n',
      policy('AuthorizationPolicy', 'wrong-types', '  rules: "all"\n'),
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: from-istio\nspec: {}\n',
      'key: [unclosed\n',
    ].join('---\n'));
    const r = await meshid(['policy', 'check', '-f', broken]);
    assert.equal(r.code, 1);
    const lines = r.stdout.trim().split('\n');
    assert.deepEqual(lines.slice(0, 6), [
      'ok  PeerAuthentication default/good',
      'document 2 (PeerAuthentication default/typo): spec.mtls.mode: "STRICTER" is not one of UNSET, DISABLE, PERMISSIVE, STRICT',
      'document 3 (AuthorizationPolicy default/bad-principal): spec.rules[0].from[0].source.principals[0]: "x y" is not a principal (trust-domain/ns/NS/sa/SA, or * prefix/suffix)',
      'ignored  ConfigMap (document 4: not a PeerAuthentication or AuthorizationPolicy)',
      'document 5 (AuthorizationPolicy default/wrong-types): spec.rules: must be a list, not a string',
      'document 6 (AuthorizationPolicy default/from-istio): apiVersion: "security.istio.io/v1" is Istio\'s; meshid reads security.meshid.io/v1 (change only the apiVersion)',
    ]);
    assert.match(lines[6]!, /^document 7: not YAML: /);
    assert.equal(lines.length, 7);
    assert.equal(r.stderr, `meshid policy check: 5 problems in ${broken}\n`);
  });

  it('refuses 10,000 rules with the limit, not by working through them', async () => {
    const r = await meshid(['policy', 'check', '-f', file('rules.yaml', policy('AuthorizationPolicy', 'many', `  rules:\n${'  - {}\n'.repeat(10_000)}`))]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, 'document 1 (AuthorizationPolicy default/many): spec.rules: has 10000 entries; at most 1000 are allowed\n');
    // The same count of rules with content is refused by the size limit first.
    const rules = Array.from({ length: 10_000 }, (_, i) => `  - to:\n    - operation:\n        ports: ["${i + 1}"]\n`).join('');
    const sized = await meshid(['policy', 'check', '-f', file('sized.yaml', policy('AuthorizationPolicy', 'many', `  rules:\n${rules}`))]);
    assert.match(sized.stdout, /^document 1 \(AuthorizationPolicy default\/many\): spec: is \d+ bytes of JSON; at most 65536 are allowed\n$/);
  });

  it('refuses a 10 MB file unread, with one line', async () => {
    const start = Date.now();
    const r = await meshid(['policy', 'check', '-f', file('huge.yaml', Buffer.alloc(10 * 1024 * 1024, 'a: b\n'))]);
    assertCleanFailure(r, /^meshid policy: .*huge\.yaml is 10485760 bytes; at most 1048576 are read\n$/);
    assert.ok(Date.now() - start < 10_000);
  });

  it('refuses 10 MB on stdin', async () => {
    const r = await withStdin(['policy', 'check', '-f', '-'], 'a: b\n'.repeat(2 * 1024 * 1024));
    assertCleanFailure(r, /^meshid policy: stdin is larger than 1048576 bytes\n$/);
  });

  it('refuses an alias bomb without expanding it', async () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 9 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`)].join('\n');
    const r = await meshid(['policy', 'check', '-f', file('bomb.yaml', `${policy('AuthorizationPolicy', 'bomb', '  rules: []\n')}\n---\n${bomb}\n`)]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^ok {2}AuthorizationPolicy default\/bomb\ndocument 2: .*alias/im);
    assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at /);
  });

  it('survives input that is not YAML at all and nesting deep enough to exhaust a stack', async () => {
    const garbage = await meshid(['policy', 'check', '-f', file('garbage.yaml', Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x7b, 0x3a, 0x5d, 0x0a, 0x09, 0x3a]))]);
    assert.equal(garbage.code, 1);
    assert.match(garbage.stdout, /^document 1: not YAML: /);
    const deep = await meshid(['policy', 'check', '-f', file('deep.yaml', `${'['.repeat(200_000)}${']'.repeat(200_000)}\n`)]);
    assert.equal(deep.code, 1, deep.stderr);
    assert.doesNotMatch(deep.stdout + deep.stderr, /\n\s+at /);
    const empty = await meshid(['policy', 'check', '-f', file('empty.yaml', '# nothing\n')]);
    assert.deepEqual([empty.code, empty.stdout], [1, 'no objects found\n']);
  });

  it('has --help, and a usage error for a missing -f or an unknown subcommand', async () => {
    const help = await meshid(['policy', 'check', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^usage: meshid policy check -f FILE\|-/);
    assert.equal((await meshid(['policy', 'check'])).code, 2);
    assert.equal((await meshid(['policy', 'lint'])).code, 2);
    assert.match((await meshid(['--help'])).stdout, /policy +check: validate/);
  });
});
