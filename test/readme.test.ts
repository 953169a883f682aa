import { dirname } from 'node:path';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { COMMANDS } from '../src/cli/commands.js';
import type { FlagTable } from '../src/cli/flags.js';
import { MOUNT_CA_ROOT, MOUNT_CERTS, MOUNT_PODINFO, MOUNT_TOKEN, MOUNT_WORKLOAD, POD_CERTIFICATE, POD_PATHS, PORTS, VIEW_FILE } from '../src/common/pod-contract.js';
import { SERVE_DEFAULTS } from '../src/controlplane/config.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const README = await readFile(new URL('README.md', `file://${REPO}/`), 'utf8');

/** The ```sh blocks the README marks to be run as written. */
function runnableBlocks(text: string): string[] {
  return [...text.matchAll(/<!-- readme-test: run -->\n```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

function run(cmd: string, args: string[], o: { cwd?: string; timeoutMs: number }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: o.cwd, timeout: o.timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const untracked = async () => (await run('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: REPO, timeoutMs: 10_000 })).stdout;

test('the README\'s quick start runs as written from the clone and leaves nothing behind in it', { timeout: 90_000 }, async () => {
  const blocks = runnableBlocks(README);
  assert.ok(blocks.length >= 1, 'the README marks its quick start to be run');
  assert.ok((await run('unshare', ['--version'], { timeoutMs: 5000 })).code === 0 && process.getuid?.() === 0,
    'this test needs root and unshare: the quick start binds the default ports, so it runs in a network namespace of its own');
  const before = await untracked();
  for (const block of blocks) {
    // Its own network namespace: the README's fixed ports (15012, 15014, 15017) collide with nothing on the machine.
    // As a terminal runs it: aliases expand. Whatever fails, nothing it started outlives it.
    const script = `set -euo pipefail\nshopt -s expand_aliases\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\nip link set lo up\n${block}`;
    const r = await run('unshare', ['--net', 'bash', '-c', script], { cwd: REPO, timeoutMs: 60_000 });
    assert.equal(r.code, 0, `the block exited ${r.code}:\n${r.stderr.slice(-2000)}`);
    assert.match(r.stdout, /"spiffeId":"spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart"/, 'curl got a certificate');
    assert.match(r.stdout, /SPIFFE ID: +spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart$/m, 'svid show read what the agent wrote');
    assert.match(r.stdout, /^root +O=cluster\.local, CN=meshid root CA/m, 'ca status');
  }
  assert.equal(await untracked(), before, 'no file left in the clone');
});

/** The commands the README shows with their flags: `meshid CMD [SUB] …--flag…`, one line or table row at a time. */
function meshidFlagUses(text: string): Array<{ words: string[]; flag: string; line: string }> {
  const uses: Array<{ words: string[]; flag: string; line: string }> = [];
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  for (const line of lines) {
    for (const m of line.matchAll(/meshid ([a-z]+)(?![\w:])((?: [a-z-]+)?)([^|`#]*)/g)) {
      const [command, sub] = [m[1]!, m[2]!.trim()];
      if (!COMMANDS[command]) continue;
      for (const f of m[3]!.matchAll(/(?:^|[\s[(])(--[a-z][a-z0-9-]*)/g)) uses.push({ words: [command, sub], flag: f[1]!, line });
    }
  }
  return uses;
}

test('every meshid flag, port and pod path the README names is the one the code defines', async () => {
  const uses = meshidFlagUses(README);
  assert.ok(uses.length > 25, `${uses.length} flag uses found`);
  for (const { words: [command, sub], flag, line } of uses) {
    const entry = COMMANDS[command!]!;
    const tables = await entry.flags();
    const table: FlagTable = entry.subcommands
      ? (sub && (tables as Record<string, { flags: FlagTable }>)[sub]?.flags) || Object.assign({}, ...Object.values(tables as Record<string, { flags: FlagTable }>).map((s) => s.flags))
      : tables as FlagTable;
    assert.ok(flag === '--help' || flag.slice(2) in table, `README: meshid ${command}${sub ? ` ${sub}` : ''} has no ${flag}, in: ${line.trim().slice(0, 160)}`);
  }

  const ports = new Set<number>([...Object.values(PORTS), ...(['webhook-port', 'ca-port', 'istio-ca-port', 'monitoring-port'] as const).map((k) => Number(SERVE_DEFAULTS[k]))]);
  const named = [...README.matchAll(/\b(150\d\d)\b/g)].map((m) => Number(m[1]));
  assert.ok(named.length >= 5);
  for (const port of named) assert.ok(ports.has(port), `README names port ${port}, which no definition in the code has`);

  const mounts = [MOUNT_CERTS, MOUNT_TOKEN, MOUNT_CA_ROOT, MOUNT_PODINFO, MOUNT_WORKLOAD, POD_CERTIFICATE.mountPath];
  // Paths of other software the README points at (istio-agent's root file), not meshid's.
  const foreign = ['/var/run/secrets/istio/root-cert.pem'];
  // The agent writes its view beside the SDS socket (agent/view-follow.ts).
  const beside = [`${dirname(POD_PATHS.sdsSocket)}/${VIEW_FILE}`];
  const paths = [...README.matchAll(/(\/(?:var\/run|etc\/meshid)\/[\w./-]*[\w])/g)].map((m) => m[1]!);
  assert.ok(paths.length >= 4);
  for (const path of paths) {
    assert.ok(foreign.includes(path) || beside.includes(path) || (Object.values(POD_PATHS) as string[]).includes(path) || mounts.includes(path) || mounts.some((m) => path.startsWith(`${m}/`) && Object.values(POD_PATHS).some((p) => p.startsWith(path))),
      `README names ${path}, which is not a path the injector and the agent share (src/common/pod-contract.ts)`);
  }
});
