import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { defaultOverrides } from '../../src/injector/annotations.js';
import { injectorConfig } from '../../src/injector/config.js';
import { redirectArgs } from '../../src/iptables/args.js';
import { MAIN } from '../helpers/cli.js';

const exec = promisify(execFile);
/** The init container's command after `meshid iptables`, exactly as the injector writes it. */
const INJECTED = redirectArgs(defaultOverrides(injectorConfig()), injectorConfig().proxyUid);
// As the kubelet runs meshid-init with readOnlyRootFilesystem: nothing under / (so not /run) can be written.
const READ_ONLY_ROOT = 'mount --bind / / && mount -o remount,bind,ro / || exit 97; '
  + 'if touch /.meshid-rw-probe 2>/dev/null; then rm -f /.meshid-rw-probe; echo "root is still writable" >&2; exit 98; fi; exec "$@"';

const namespaces: string[] = [];
let counter = 0;

before(async () => {
  assert.equal(process.getuid?.(), 0, 'these tests need root: they make network namespaces and install real iptables rules in them');
  await exec('ip', ['netns', 'list']).catch((err) => assert.fail(`ip netns is not usable: ${(err as Error).message}`));
});
after(async () => {
  for (const ns of namespaces) await exec('ip', ['netns', 'del', ns]).catch(() => {});
});

/** A fresh network namespace with an interface carrying IPv4, and IPv6 only if asked (it always has link-local). */
async function netns(ipv6: boolean): Promise<string> {
  const ns = `meshid-ipt-${process.pid}-${counter++}`;
  await exec('ip', ['netns', 'add', ns]);
  namespaces.push(ns);
  const ip = (...args: string[]) => exec('ip', ['-n', ns, ...args]);
  await ip('link', 'set', 'lo', 'up');
  // A veth pair inside the namespace, as a CNI plugin gives a pod (this kernel has no dummy interfaces).
  await ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'node0');
  for (const dev of ['eth0', 'node0']) await ip('link', 'set', dev, 'up');
  await ip('addr', 'add', '10.20.0.5/24', 'dev', 'eth0');
  if (ipv6) await ip('addr', 'add', 'fd00:20::5/64', 'dev', 'eth0', 'nodad');
  return ns;
}

interface Run { code: number; stdout: string; stderr: string }

/** `meshid iptables ARGS` in the namespace, with a read-only root filesystem and `env` for it alone. */
function iptablesIn(ns: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', ns, 'unshare', '--mount', 'sh', '-c', READ_ONLY_ROOT, 'sh', 'env', ...vars, process.execPath, MAIN, 'iptables', ...args],
      { timeout: 30_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

async function saved(ns: string, backend: string, family: 4 | 6): Promise<string> {
  return (await exec('ip', ['netns', 'exec', ns, `${family === 4 ? 'ip' : 'ip6'}tables-${backend}-save`, '-t', 'nat'])).stdout;
}

const MESHID_RULES = [':MESHID_INBOUND', ':MESHID_OUTPUT', '-A PREROUTING -p tcp -j MESHID_INBOUND', '-A OUTPUT -p tcp -j MESHID_OUTPUT', '--uid-owner 1337 -j RETURN'];

for (const backend of ['nft', 'legacy'] as const) {
  const args = backend === 'nft' ? INJECTED : [...INJECTED, `--iptables-backend=${backend}`];

  test(`${backend}: the injected command on a read-only root redirects IPv4 and, in a dual-stack pod, IPv6`, async () => {
    const ns = await netns(true);
    const r = await iptablesIn(ns, args);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`redirected IPv4 and IPv6 with iptables-${backend}`));
    for (const family of [4, 6] as const) {
      const rules = await saved(ns, backend, family);
      for (const rule of MESHID_RULES) assert.ok(rules.includes(rule), `IPv${family} ${backend}: ${rule} in\n${rules}`);
    }
    assert.ok((await saved(ns, backend, 6)).includes('-A MESHID_OUTPUT -d ::1/128 -j RETURN'));
  });

  test(`${backend}: an IPv4-only pod (loopback and link-local IPv6 only) gets IPv4 rules; --ipv6 requires IPv6`, async () => {
    const ns = await netns(false);
    const r = await iptablesIn(ns, args);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /redirected IPv4 \(no IPv6 address in this pod\)/);
    for (const rule of MESHID_RULES) assert.ok((await saved(ns, backend, 4)).includes(rule), rule);
    assert.ok(!(await saved(ns, backend, 6)).includes('MESHID'), 'no IPv6 rules');

    const required = await netns(false);
    const v6 = await iptablesIn(required, [...args, '--ipv6']);
    assert.equal(v6.code, 0, v6.stderr);
    for (const rule of MESHID_RULES) assert.ok((await saved(required, backend, 6)).includes(rule), `--ipv6: ${rule}`);
  });
}

test('auto picks nft on this kernel; failures are one line naming the iptables command', async () => {
  const ns = await netns(false);
  const auto = await iptablesIn(ns, [...INJECTED, '--iptables-backend=auto']);
  assert.equal(auto.code, 0, auto.stderr);
  assert.match(auto.stdout, /with iptables-nft\n$/);

  // An operator's XTABLES_LOCKFILE is used as given, even where it cannot be created.
  const locked = await iptablesIn(await netns(false), [...INJECTED, '--iptables-backend=legacy'], { XTABLES_LOCKFILE: '/proc/meshid-no-lock' });
  assert.equal(locked.code, 1);
  assert.equal(locked.stderr, "meshid iptables: iptables-legacy-restore failed (exit status 4): Fatal: can't open lock file /proc/meshid-no-lock: No such file or directory\n");

  const missing = await iptablesIn(await netns(false), INJECTED, { PATH: '/nonexistent' });
  assert.equal(missing.stderr, 'meshid iptables: iptables-nft-restore: not found (the image needs the iptables package)\n');
  assert.equal(missing.code, 1);

  const bad = await iptablesIn(ns, [...INJECTED, '--iptables-backend=ebpf']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^meshid iptables: --iptables-backend "ebpf" must be one of nft, legacy, auto\n/);
});
