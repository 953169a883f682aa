import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { AGENT_FLAGS } from '../../src/cli/agent-flags.js';
import { CA_SUBCOMMANDS } from '../../src/cli/ca-flags.js';
import { COMMANDS } from '../../src/cli/commands.js';
import type { FlagTable } from '../../src/cli/flags.js';
import { SERVE_FLAGS } from '../../src/cli/serve-flags.js';
import { Children, startServe } from '../e2e/children.js';
import { startFakeCluster, NS } from '../helpers/fake-cluster.js';
import { meshid } from '../helpers/cli.js';
import { tempDir } from '../helpers/openssl.js';

const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

test('meshid version and --version print the CLI version from package.json and the Node version; -o json too', async () => {
  for (const args of [['version'], ['--version']]) {
    const r = await meshid(args);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `meshid ${pkg.version}\nnode ${process.versions.node}\n`);
  }
  const json = await meshid(['version', '-o', 'json']);
  assert.deepEqual(JSON.parse(json.stdout), { cli: pkg.version, node: process.versions.node });
});

test('meshid version --cluster adds the control plane\'s, from its Deployment\'s image', async (t) => {
  const cluster = await startFakeCluster(t);
  cluster.fake.put('deployments', {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'meshid', namespace: NS },
    spec: { replicas: 2, template: { spec: { containers: [{ name: 'meshid', image: 'reg.example/meshid:0.0.9@sha256:' + 'a'.repeat(64) }] } } },
    status: { readyReplicas: 1 },
  });
  const kubeconfig = await cluster.kubeconfigFile();
  const r = await meshid(['version', '--cluster', '--kubeconfig', kubeconfig]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.split('\n')[2], `control plane 0.0.9 (reg.example/meshid:0.0.9@sha256:${'a'.repeat(64)}, deployment ${NS}/meshid, 1/2 ready)`);
  const json = JSON.parse((await meshid(['version', '--cluster', '--kubeconfig', kubeconfig, '-o', 'json'])).stdout);
  assert.deepEqual(json.controlPlane, { deployment: 'meshid', namespace: NS, image: `reg.example/meshid:0.0.9@sha256:${'a'.repeat(64)}`, version: '0.0.9', readyReplicas: 1, replicas: 2 });
  const missing = await meshid(['version', '--cluster', '--kubeconfig', kubeconfig, '--namespace', 'elsewhere']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^meshid version: cannot read Deployment meshid in elsewhere: HTTP 404/);
});

/** Every flag of the table is on a line of its own in the help, with a description after it. */
function describesEveryFlag(help: string, table: FlagTable, what: string): void {
  for (const [name, d] of Object.entries(table)) {
    const line = help.split('\n').findIndex((l) => l.startsWith(`  ${d.short ? `-${d.short}, ` : ''}--${name}${d.arg ? ` ${d.arg}` : ''}`));
    assert.ok(line >= 0, `${what}: --${name} listed`);
    assert.ok(d.help.length > 10 && help.includes(d.help.split('\n')[0]!), `${what}: --${name} described`);
  }
}

test('serve --help describes every flag like the agent\'s; help CMD is CMD --help, for every command', async () => {
  const serve = await meshid(['serve', '--help']);
  describesEveryFlag(serve.stdout, SERVE_FLAGS, 'serve');
  describesEveryFlag((await meshid(['agent', '--help'])).stdout, AGENT_FLAGS, 'agent');
  for (const sub of Object.keys(CA_SUBCOMMANDS) as Array<keyof typeof CA_SUBCOMMANDS>) {
    describesEveryFlag((await meshid(['ca', sub, '--help'])).stdout, CA_SUBCOMMANDS[sub].flags, `ca ${sub}`);
  }
  for (const args of [...Object.keys(COMMANDS).map((c) => [c]), ['ca', 'status']]) {
    const help = await meshid(['help', ...args]);
    assert.equal(help.code, 0, `help ${args.join(' ')}: ${help.stderr}`);
    assert.equal(help.stdout, (await meshid([...args, '--help'])).stdout, `help ${args.join(' ')}`);
    assert.match(help.stdout, new RegExp(`^usage: meshid ${args[0]}`));
  }
});

test('--log-format text writes one readable line per record, --log-level warn keeps info out; JSON by default in a pipe', { timeout: 60_000 }, async (t) => {
  const children = new Children();
  t.after(() => children.killAll());
  const dir = await tempDir('cli-logs-');
  const text = await startServe(children, join(dir, 'a'), ['--log-format', 'text']);
  await text.serve.until(() => text.serve.stderr.includes('control plane ready'), 'the ready record');
  const line = text.serve.stderr.split('\n').find((l) => l.includes('control plane ready'))!;
  assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO  control plane ready ca=https:\/\/127\.0\.0\.1:\d+ istioCa=\S+ webhook=\S+ monitoring=\S+ listen=:: /);
  assert.ok(!text.serve.stderr.includes('{"level"'), 'no JSON in text mode');

  const quiet = await startServe(children, join(dir, 'b'), ['--log-level', 'warn']);
  const json = await startServe(children, join(dir, 'c'));
  await json.serve.until(() => json.serve.logs().some((l) => l.msg === 'control plane ready'), 'the JSON ready record');
  await quiet.serve.stop();
  assert.deepEqual(quiet.serve.logs().filter((l) => (l.level as number) < 40), [], 'nothing below warn');
  // The flag wins over the environment.
  const flagWins = await startServe(children, join(dir, 'd'), ['--log-level', 'error'], { MESHID_LOG_LEVEL: 'debug' });
  await flagWins.serve.stop();
  assert.deepEqual(flagWins.serve.logs(), []);
});

function bashComplete(script: string, words: string[]): Promise<string[]> {
  const program = `source /dev/stdin <<'EOF'\n${script}\nEOF\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _meshid; printf '%s\\n' "\${COMPREPLY[@]}"`;
  return new Promise((resolve, reject) => {
    execFile('bash', ['-c', program], (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout.split('\n').filter(Boolean))));
  });
}

test('completion bash offers every command, subcommand, flag and flag value of the parsers\' tables', async () => {
  const r = await meshid(['completion', 'bash']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await bashComplete(r.stdout, ['meshid', '']), [...Object.keys(COMMANDS), 'help']);
  assert.deepEqual(await bashComplete(r.stdout, ['meshid', 'ca', '']), Object.keys(CA_SUBCOMMANDS));
  for (const [name, entry] of Object.entries(COMMANDS)) {
    const tables = await entry.flags();
    const nodes: Array<[string[], FlagTable]> = entry.subcommands
      ? Object.entries(tables as Record<string, { flags: FlagTable }>).map(([sub, s]) => [[name, sub], s.flags])
      : [[[name], tables as FlagTable]];
    for (const [words, table] of nodes) {
      const offered = await bashComplete(r.stdout, ['meshid', ...words, '--']);
      assert.deepEqual(offered.sort(), [...Object.keys(table), 'help'].map((f) => `--${f}`).sort(), words.join(' '));
      for (const [flag, d] of Object.entries(table).filter(([, d]) => d.choices)) {
        assert.deepEqual(await bashComplete(r.stdout, ['meshid', ...words, `--${flag}`, '']), [...d.choices!], `${words.join(' ')} --${flag}`);
      }
    }
  }
  assert.deepEqual(await bashComplete(r.stdout, ['meshid', 'serve', '--lo']), ['--local', '--log-level', '--log-format']);
  assert.deepEqual(await bashComplete(r.stdout, ['meshid', 'completion', '']), ['bash', 'zsh', '--help']);
});

test('completion zsh is a script zsh loads and registers for meshid, naming every flag', async () => {
  const r = await meshid(['completion', 'zsh']);
  assert.equal(r.code, 0, r.stderr);
  const dir = await tempDir('cli-zsh-');
  await writeFile(join(dir, '_meshid'), r.stdout);
  const registered = await new Promise<string>((resolve, reject) => {
    execFile('zsh', ['-f', '-c', `autoload -U compinit && compinit -u -d ${dir}/dump && source ${dir}/_meshid && print -r -- $_comps[meshid]`], (err, stdout, stderr) => {
      if (err) reject(new Error(`zsh (install it: apt-get install zsh): ${err.message} ${stderr}`));
      else resolve(stdout.trim());
    });
  });
  assert.equal(registered, '_meshid');
  for (const name of [...Object.keys(SERVE_FLAGS), ...Object.keys(AGENT_FLAGS)]) assert.ok(r.stdout.includes(`'--${name}`), `--${name}`);
  const wrong = await meshid(['completion', 'fish']);
  assert.equal(wrong.stderr, 'meshid completion: "fish" is not a shell meshid completes; use bash or zsh (see meshid completion --help)\n');
  assert.equal(wrong.code, 2);
});
