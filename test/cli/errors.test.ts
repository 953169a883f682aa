import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { Children, startServe } from '../e2e/children.js';
import { MAIN, meshid, type CliResult } from '../helpers/cli.js';
import { openssl, tempDir } from '../helpers/openssl.js';
import { waitFor } from '../helpers/wait.js';

/** The whole of stderr is this one line; exit status 2 for a wrong command line, 1 for a failure. */
async function saysExactly(args: string[], line: string, code: number, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const r = await meshid(args, env);
  assert.equal(r.stderr, `${line}\n`, args.join(' '));
  assert.equal(r.code, code, `${args.join(' ')}: exit status`);
  return r;
}

test('a wrong flag is named with the closest known one, in the same one line on every command', async () => {
  const cases: Array<[string[], string]> = [
    [['serve', '--locl'], 'meshid serve: unknown flag --locl; did you mean --local? (see meshid serve --help)'],
    [['serve', '--ca-prot', '1'], 'meshid serve: unknown flag --ca-prot; did you mean --ca-port? (see meshid serve --help)'],
    [['token', '--nmespace', 'x'], 'meshid token: unknown flag --nmespace; did you mean --namespace? (see meshid token --help)'],
    [['agent', '--onec'], 'meshid agent: unknown flag --onec; did you mean --once? (see meshid agent --help)'],
    [['inject', '--outptu', 'x'], 'meshid inject: unknown flag --outptu; did you mean --output? (see meshid inject --help)'],
    [['iptables', '--dryrun'], 'meshid iptables: unknown flag --dryrun; did you mean --dry-run? (see meshid iptables --help)'],
    [['ca', 'status', '--dat-dir', 'x'], 'meshid ca: unknown flag --dat-dir; did you mean --data-dir? (see meshid ca status --help)'],
    [['ca', 'rotate-root', '--wiat'], 'meshid ca: unknown flag --wiat; did you mean --wait? (see meshid ca rotate-root --help)'],
    [['version', '--clustr'], 'meshid version: unknown flag --clustr; did you mean --cluster? (see meshid version --help)'],
    [['serve', '--zzzzzzzz'], 'meshid serve: unknown flag --zzzzzzzz (see meshid serve --help)'],
    [['ca', 'stauts'], 'meshid ca: unknown subcommand "stauts"; did you mean status? (see meshid ca --help)'],
    [['sreve'], 'meshid: unknown command "sreve"; did you mean serve? (see meshid --help)'],
    [['token', '--namespace', 'a', '--service-account', 'b', '--ttl'], 'meshid token: --ttl needs a value (see meshid token --help)'],
    [['serve', '--local=yes'], 'meshid serve: --local takes no value (see meshid serve --help)'],
  ];
  for (const [args, line] of cases) await saysExactly(args, line, 2);
});

test('durations are positive, certificate TTLs at least 10s, log levels from a list', async () => {
  await saysExactly(['token', '--namespace', 'a', '--service-account', 'b', '--ttl', '-5m'],
    'meshid token: --ttl: "-5m" is negative; durations are positive, like 90s, 15m, 24h or 7d', 2);
  await saysExactly(['agent', '--cert-ttl', '5s', '--ca-addr', '127.0.0.1:1', '--namespace', 'a', '--service-account', 'b'],
    'meshid agent: --cert-ttl "5s" is below the minimum of 10s', 2);
  const levels = 'use one of fatal, error, warn, info, debug, trace, silent';
  await saysExactly(['serve', '--local'], `meshid serve: MESHID_LOG_LEVEL "verbose" is not a log level; ${levels}`, 2, { MESHID_LOG_LEVEL: 'verbose' });
  await saysExactly(['serve', '--local', '--log-level', 'loud'], `meshid serve: --log-level "loud" is not a log level; ${levels}`, 2);
  await saysExactly(['agent', '--ca-addr', '127.0.0.1:1', '--namespace', 'a', '--service-account', 'b'],
    `meshid agent: MESHID_LOG_LEVEL "verbose" is not a log level; ${levels}`, 2, { MESHID_LOG_LEVEL: 'verbose' });
  await saysExactly(['serve', '--local', '--log-format', 'xml'], 'meshid serve: --log-format "xml" is not a log format; use text or json', 2);
});

test('a port in use names the flag that sets it, and nothing is created on disk before', async (t) => {
  const holder = createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  t.after(() => holder.close());
  const { port } = holder.address() as AddressInfo;
  const dataDir = join(await tempDir('cli-port-'), 'data');
  for (const flag of ['ca-port', 'webhook-port', 'monitoring-port']) {
    const ports = ['ca-port', 'webhook-port', 'monitoring-port'].flatMap((f) => [`--${f}`, f === flag ? String(port) : '0']);
    await saysExactly(['serve', '--local', '--data-dir', dataDir, '--listen-address', '127.0.0.1', ...ports],
      `meshid serve: --${flag} ${port} is in use on 127.0.0.1; stop what listens there or choose another port with --${flag} (0 = any free port)`, 1);
    await assert.rejects(stat(dataDir), { code: 'ENOENT' }, `${flag}: nothing created`);
  }
});

/** `meshid ARGS` as uid/gid 65534 (nobody): root reads any folder, so only another user meets a permission problem. */
function meshidAsNobody(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, MAIN, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

test('an unreadable data directory is a permission problem on that path, for serve, token and ca', async () => {
  assert.equal(process.getuid?.(), 0, 'this test needs root, to run meshid as another user (setpriv)');
  await chmod(dirname(MAIN), 0o755);
  const parent = await tempDir('cli-perm-');
  await chmod(parent, 0o755);
  const dataDir = join(parent, 'data');
  await mkdir(dataDir, { mode: 0o700 });
  const reason = `permission denied on the data directory ${dataDir} (running as uid 65534): give this user read and write access to it, or choose another --data-dir`;
  const cases: Array<[string, string[]]> = [
    ['serve', ['serve', '--local', '--data-dir', dataDir, '--ca-port', '0', '--webhook-port', '0', '--monitoring-port', '0']],
    ['token', ['token', '--namespace', 'a', '--service-account', 'b', '--data-dir', dataDir]],
    ['ca', ['ca', 'status', '--data-dir', dataDir]],
  ];
  for (const [name, args] of cases) {
    const r = await meshidAsNobody(args);
    assert.equal(r.stderr, `meshid ${name}: ${reason}\n`, name);
    assert.equal(r.code, 1, name);
  }
});

test('ca status --cluster with no kubeconfig says none was found and how to pass one', async () => {
  const home = await tempDir('cli-home-');
  await saysExactly(['ca', 'status', '--cluster'],
    'meshid ca: no kubeconfig or in-cluster config found ($KUBECONFIG unset, no ~/.kube/config, not in a pod); pass one with --kubeconfig FILE or set KUBECONFIG',
    1, { HOME: home, KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' });
});

test('the agent does not call its first trust bundle a change; a later change it does', { timeout: 60_000 }, async (t) => {
  const children = new Children();
  t.after(() => children.killAll());
  const dir = await tempDir('cli-bundle-log-');
  const { caUrl, trustBundle } = await startServe(children, join(dir, 'ca'));
  const token = await children.run('token', ['token', '--namespace', 'shop', '--service-account', 'cart', '--data-dir', join(dir, 'ca')]);
  await writeFile(join(dir, 'token'), token.stdout);
  const roots = join(dir, 'roots.pem');
  await writeFile(roots, await readFile(trustBundle, 'utf8'));
  const agent = children.start('agent', ['agent', '--ca-addr', caUrl, '--ca-root', roots, '--token-file', join(dir, 'token'), '--namespace', 'shop',
    '--service-account', 'cart', '--sds-socket', join(dir, 'sds.sock'), '--status-port', '0', '--health-port', '0']);
  const messages = () => agent.logs().map((l) => l.msg);
  await agent.until(() => messages().includes('SVID installed'), 'the SVID');
  await new Promise((r) => setTimeout(r, 1500));
  assert.ok(!messages().includes('trust bundle changed; pushing ROOTCA'), `first load logged as a change: ${agent.stderr}`);

  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'r.pem'), '-subj', '/CN=next root', '-days', '1']);
  await writeFile(roots, `${await readFile(trustBundle, 'utf8')}${await readFile(join(dir, 'r.pem'), 'utf8')}`);
  await waitFor(() => messages().includes('trust bundle changed; pushing ROOTCA'), { timeoutMs: 15_000, what: 'the change to be logged' });
});
