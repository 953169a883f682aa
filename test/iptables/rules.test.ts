import assert from 'node:assert/strict';
import { test } from 'node:test';
import { iptablesCommand } from '../../src/cli/iptables.js';
import { defaultOverrides } from '../../src/injector/annotations.js';
import { injectorConfig } from '../../src/injector/config.js';
import { redirectArgs, redirectSpecFromFlags } from '../../src/iptables/args.js';
import { chooseLockFile, parseBackend, restoreCommand } from '../../src/iptables/backend.js';
import { familiesToRedirect, hasRoutableIpv6 } from '../../src/iptables/families.js';
import { buildRules, type RedirectSpec } from '../../src/iptables/rules.js';
import { parseOverrides } from '../../src/injector/annotations.js';

const base = (): RedirectSpec => redirectSpecFromFlags({});

test('default rules redirect all inbound to 15006 and outbound to 15001, sparing the proxy uid and agent ports', () => {
  assert.deepEqual(buildRules(base(), 4), [
    '*nat',
    ':MESHID_INBOUND - [0:0]',
    ':MESHID_IN_REDIRECT - [0:0]',
    ':MESHID_OUTPUT - [0:0]',
    ':MESHID_REDIRECT - [0:0]',
    '-A MESHID_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006',
    '-A MESHID_REDIRECT -p tcp -j REDIRECT --to-ports 15001',
    '-A PREROUTING -p tcp -j MESHID_INBOUND',
    '-A MESHID_INBOUND -p tcp --dport 15020 -j RETURN',
    '-A MESHID_INBOUND -p tcp --dport 15021 -j RETURN',
    '-A MESHID_INBOUND -p tcp --dport 15090 -j RETURN',
    '-A MESHID_INBOUND -p tcp -j MESHID_IN_REDIRECT',
    '-A OUTPUT -p tcp -j MESHID_OUTPUT',
    '-A MESHID_OUTPUT -m owner --uid-owner 1337 -j RETURN',
    '-A MESHID_OUTPUT -m owner --gid-owner 1337 -j RETURN',
    '-A MESHID_OUTPUT -d 127.0.0.1/32 -j RETURN',
    '-A MESHID_OUTPUT -j MESHID_REDIRECT',
    'COMMIT',
  ]);
});

test('include/exclude lists from annotations become the rules, per address family', () => {
  const o = parseOverrides({
    'sidecar.meshid.io/includeInboundPorts': '8080,15021,9090',
    'sidecar.meshid.io/excludeOutboundPorts': '3306',
    'sidecar.meshid.io/includeOutboundPorts': '443',
    'sidecar.meshid.io/includeOutboundIPRanges': '10.0.0.0/8,fd00::/8',
    'sidecar.meshid.io/excludeOutboundIPRanges': '10.96.0.1/32',
  }, injectorConfig());
  const spec = redirectSpecFromFlags(Object.fromEntries(redirectArgs(o, 1337).map((a) => a.slice(2).split(/=(.*)/s).slice(0, 2))));
  const v4 = buildRules(spec, 4);
  assert.ok(v4.includes('-A MESHID_INBOUND -p tcp --dport 8080 -j MESHID_IN_REDIRECT'));
  assert.ok(v4.includes('-A MESHID_INBOUND -p tcp --dport 9090 -j MESHID_IN_REDIRECT'));
  assert.ok(!v4.some((r) => r.includes('--dport 15021 -j MESHID_IN_REDIRECT')), 'agent port never redirected');
  assert.ok(!v4.includes('-A MESHID_INBOUND -p tcp -j MESHID_IN_REDIRECT'));
  const out = v4.slice(v4.indexOf('-A MESHID_OUTPUT -d 127.0.0.1/32 -j RETURN') + 1, -1);
  assert.deepEqual(out, [
    '-A MESHID_OUTPUT -p tcp --dport 3306 -j RETURN',
    '-A MESHID_OUTPUT -p tcp --dport 443 -j MESHID_REDIRECT',
    '-A MESHID_OUTPUT -d 10.96.0.1/32 -j RETURN',
    '-A MESHID_OUTPUT -d 10.0.0.0/8 -j MESHID_REDIRECT',
  ]);
  const v6 = buildRules(spec, 6);
  assert.ok(v6.includes('-A MESHID_OUTPUT -d ::1/128 -j RETURN'));
  assert.ok(v6.includes('-A MESHID_OUTPUT -d fd00::/8 -j MESHID_REDIRECT'));
  assert.ok(!v6.some((r) => r.includes('10.0.0.0/8')));
});

test('"*" exclusions switch a direction off entirely; an empty include list redirects nothing inbound', () => {
  const none = buildRules({ ...base(), excludeInboundPorts: '*', excludeOutboundPorts: '*' }, 4);
  assert.ok(!none.some((r) => r.includes('PREROUTING')));
  assert.ok(!none.some((r) => r.includes('-j MESHID_REDIRECT') && r.startsWith('-A MESHID_OUTPUT')));
  assert.ok(!buildRules({ ...base(), includeInboundPorts: [] }, 4).some((r) => r.includes('PREROUTING')));
  const ranges = buildRules({ ...base(), includeOutboundIPRanges: [] }, 4);
  assert.ok(!ranges.includes('-A MESHID_OUTPUT -j MESHID_REDIRECT'));
});

test('the init container flags round-trip to the same spec the defaults give', () => {
  const o = defaultOverrides(injectorConfig());
  const flags = Object.fromEntries(redirectArgs(o, 1337).map((a) => a.slice(2).split(/=(.*)/s).slice(0, 2)));
  assert.deepEqual(redirectSpecFromFlags(flags), base());
});

test('meshid iptables --dry-run prints the rules; bad flags name the flag', async () => {
  const out: string[] = [];
  const io = { stdout: (s: string) => void out.push(s), stderr: () => {} };
  assert.equal(await iptablesCommand(['--dry-run', '--ipv6', '--exclude-inbound-ports=22'], io), 0);
  const text = out.join('');
  assert.match(text, /# IPv4\n\*nat\n/);
  assert.match(text, /# IPv6\n\*nat\n/);
  assert.match(text, /--dport 22 -j RETURN/);
  out.length = 0;
  assert.equal(await iptablesCommand(['--help'], io), 0);
  assert.match(out.join(''), /usage: meshid iptables/);
  await assert.rejects(iptablesCommand(['--dry-run', '--inbound-port=70000'], io), /--inbound-port: port "70000" is outside 1-65535/);
  await assert.rejects(iptablesCommand(['--dry-run', '--exclude-outbound-ip-ranges=nope'], io), /--exclude-outbound-ip-ranges: "nope" is not a CIDR/);
  await assert.rejects(iptablesCommand(['--dry-run', '--proxy-uid=-1'], io), /--proxy-uid/);
  await assert.rejects(iptablesCommand(['--what'], io), /what/);
});

test('IPv6 is redirected where the pod has an address besides loopback and link-local, or when --ipv6 requires it', () => {
  const line = (hex: string, scope: string, dev: string) => `${hex} 02 40 ${scope} 80 ${dev}`;
  const loopback = line('00000000000000000000000000000001', '10', 'lo');
  const linkLocal = line('fe80000000000000a49f24fffe5ef551', '20', 'eth0');
  const ula = line('fd000020000000000000000000000005', '00', 'eth0');
  const global = line('20010db8000000000000000000000001', '00', 'eth0');
  assert.equal(hasRoutableIpv6(''), false, 'no IPv6 in the kernel');
  assert.equal(hasRoutableIpv6([loopback, linkLocal, line('febf0000000000000000000000000001', '20', 'eth0')].join('\n')), false);
  assert.equal(hasRoutableIpv6([loopback, linkLocal, ula].join('\n')), true);
  assert.equal(hasRoutableIpv6(`${global}\n`), true);
  assert.deepEqual(familiesToRedirect(false, false), [4]);
  assert.deepEqual(familiesToRedirect(false, true), [4, 6]);
  assert.deepEqual(familiesToRedirect(true, false), [4, 6]);
});

test('backends run their own binaries; the legacy lock goes where it can be written unless the operator chose', () => {
  assert.deepEqual([restoreCommand('nft', 4), restoreCommand('nft', 6), restoreCommand('legacy', 4), restoreCommand('legacy', 6)],
    ['iptables-nft-restore', 'ip6tables-nft-restore', 'iptables-legacy-restore', 'ip6tables-legacy-restore']);
  const only = (...dirs: string[]) => (dir: string) => dirs.includes(dir);
  assert.equal(chooseLockFile({}, only('/run', '/dev/shm'), '/tmp'), undefined, "iptables' own default where it works");
  assert.equal(chooseLockFile({}, only('/dev/shm', '/tmp'), '/tmp'), '/dev/shm/xtables.lock');
  assert.equal(chooseLockFile({}, only('/tmp'), '/tmp'), '/tmp/xtables.lock');
  assert.equal(chooseLockFile({ XTABLES_LOCKFILE: '/var/lock/x' }, only('/dev/shm'), '/tmp'), '/var/lock/x');
  assert.equal(parseBackend('auto'), 'auto');
  assert.throws(() => parseBackend('iptables'), /--iptables-backend "iptables" must be one of nft, legacy, auto/);
});
