import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { envoyBootstrap } from '../../src/agent/envoy-bootstrap.js';
import { defaultPlan, SettablePlanSource } from '../../src/agent/xds/plan-source.js';
import type { ControlPlane } from '../../src/controlplane/start.js';
import type { SidecarPlan } from '../../src/policy/plan.js';
import { Meshid } from '../e2e/children.js';
import { MAIN } from '../helpers/cli.js';
import { agentConfig, startCa } from '../agent/helpers.js';
import { API, plan, port, TD, WEB } from '../agent/xds-plans.js';
import { PodNetwork, type NetHost } from './network.js';
import { STATE_FILE } from './programs/standin/state-file.js';
import { run } from './shell.js';
import { STANDIN, stateWhen, TEST_APP } from './standin-support.js';

/** Connects from inside `host` as an app user (so iptables redirects it) and prints the first line, or what ended it. */
const FIRST_LINE = `const [h,p]=process.argv.slice(1);const s=require('node:net').connect({host:h,port:+p});let b='';s.on('data',d=>{b+=d;if(b.includes('\\n')){console.log(b.split('\\n')[0]);process.exit(0)}});s.on('close',()=>{console.log('closed');process.exit(0)});s.on('error',e=>{console.log('error '+e.code);process.exit(0)});setTimeout(()=>{console.log('timeout');process.exit(0)},8000)`;
const asUser = (host: NetHost, uid: number, args: string[]) => ['netns', 'exec', host.ns, 'setpriv', '--reuid', String(uid), '--regid', String(uid), '--clear-groups', ...args];
const firstLine = async (from: NetHost, to: string, p: number) => (await run('ip', asUser(from, 1000, [process.execPath, '-e', FIRST_LINE, to, String(p)]))).trim();

interface Pod { host: NetHost; agent: RunningAgent; plans: SettablePlanSource; state: string }

let cp: ControlPlane;
let net: PodNetwork;
const kids: Meshid[] = [];
const dirs: string[] = [];
before(async () => {
  cp = await startCa();
  net = await PodNetwork.create();
});
after(async () => {
  await Promise.all(kids.filter((k) => k.exit === null).map((k) => k.stop('SIGKILL')));
  await net.close();
  await cp.close();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** A pod's network namespace with meshid's own iptables rules, its agent (in this process) and the stand-in as its Envoy. */
async function pod(serviceAccount: string, first: SidecarPlan): Promise<Pod> {
  const host = await net.addHost();
  await run('ip', ['netns', 'exec', host.ns, process.execPath, MAIN, 'iptables', '--ipv6']);
  const plans = new SettablePlanSource(first);
  const config = await agentConfig(cp, { serviceAccount });
  const agent = await startAgent({ ...config, podIps: [host.ipv4, host.ipv6!] }, { plans });
  await agent.ready();
  // The stand-in runs as the proxy uid, as in a pod; the socket is the agent's, handed to that uid.
  await chmod(dirname(config.sdsSocket), 0o755);
  await chown(config.sdsSocket, 1337, 1337);
  const dir = await mkdtemp(join(tmpdir(), 'mesh-'));
  dirs.push(dir, dirname(config.sdsSocket));
  await chmod(dir, 0o777);
  const boot = join(dir, 'envoy-bootstrap.json');
  await writeFile(boot, JSON.stringify(envoyBootstrap({ nodeId: `sidecar~spiffe://${TD}/ns/shop/sa/${serviceAccount}`, cluster: `${serviceAccount}.shop`, sdsSocketPath: config.sdsSocket, podIps: [host.ipv4, host.ipv6!] })));
  const standin = new Meshid(`standin-${serviceAccount}`, spawn('ip', asUser(host, 1337, [process.execPath, STANDIN, '-c', boot]), { stdio: ['ignore', 'pipe', 'pipe'] }));
  kids.push(standin);
  const state = join(dir, STATE_FILE);
  await stateWhen(state, (s) => s.ready && s.listeners.length >= 5, `${serviceAccount}'s stand-in LIVE with its LDS listeners`, 30_000);
  return { host, agent, plans, state };
}

const counted = async (p: Pod, key: string, atLeast: number) => (await stateWhen(p.state, (s) => (s.connections[key] ?? 0) >= atLeast, `${key} x${atLeast}`)).state;

test('two pods: mesh mTLS between the stand-ins where the plan says the peer is meshed (secure naming checked), plaintext passthrough otherwise, STRICT closes plaintext; plan changes arrive over LDS/CDS', { timeout: 180_000 }, async (t) => {
  const web = await pod('web', defaultPlan(TD, null));
  const api = await pod('api', defaultPlan(TD, null));
  const app = new Meshid('api-app', spawn('ip', asUser(api.host, 1000, [process.execPath, TEST_APP, '--name', 'api', '--tcp-port', '7000']), { stdio: ['ignore', 'pipe', 'pipe'] }));
  kids.push(app);
  await app.until(() => app.stdout.includes('ready'), 'the api app to listen');
  for (const p of [web, api]) t.after(() => p.agent.stop());

  for (const [family, addr] of [['IPv4', api.host.ipv4], ['IPv6', api.host.ipv6!]] as const) {
    assert.equal(await firstLine(web.host, addr, 7000), 'api tcp 7000', `${family}: not meshed yet: plaintext through both stand-ins`);
  }
  await counted(web, 'virtualOutbound/outbound|passthrough', 2);
  await counted(api, 'virtualInbound/inbound|any|passthrough', 2);

  const version = (await stateWhen(web.state, () => true, 'state')).state.xds.LDS!.version;
  const changedAt = Date.now();
  web.plans.set(plan([port(null, 'PERMISSIVE')], [{ address: api.host.ipv4, port: null, identities: [API] }, { address: api.host.ipv6!, port: 7000, identities: [API] }]));
  await stateWhen(web.state, (s) => s.xds.LDS!.version !== version && s.xds.CDS!.acks >= 2, 'the new plan ACKed');
  t.diagnostic(`plan change to the stand-in's ACK of LDS and CDS: ${Date.now() - changedAt} ms`);
  for (const [family, addr, chain] of [['IPv4', api.host.ipv4, `outbound|${api.host.ipv4}`], ['IPv6', api.host.ipv6!, `outbound|[${api.host.ipv6}]:7000`]] as const) {
    assert.equal(await firstLine(web.host, addr, 7000), 'api tcp 7000', `${family}: meshed: mTLS between the sidecars`);
    await counted(web, `virtualOutbound/${chain}`, 1);
  }
  await counted(api, 'virtualInbound/inbound|any|mtls', 2);

  web.plans.set(plan([port(null, 'PERMISSIVE')], [{ address: api.host.ipv4, port: null, identities: [WEB] }]));
  await stateWhen(web.state, (s) => s.xds.CDS!.acks >= 3, 'the wrong identity ACKed');
  assert.equal(await firstLine(web.host, api.host.ipv4, 7000), 'closed', 'secure naming: the api pod does not hold the identity expected there');
  await counted(web, `virtualOutbound/outbound|${api.host.ipv4}/upstream-refused`, 1);

  web.plans.set(defaultPlan(TD, null));
  api.plans.set(plan([port(null, 'STRICT')]));
  await stateWhen(api.state, (s) => s.xds.LDS!.acks >= 2, 'STRICT ACKed');
  await stateWhen(web.state, (s) => s.xds.CDS!.acks >= 4, 'web back to the default plan');
  assert.equal(await firstLine(web.host, api.host.ipv4, 7000), 'closed', 'STRICT: plaintext has no chain');
  await counted(api, 'virtualInbound/no-chain', 1);
  web.plans.set(plan([port(null, 'PERMISSIVE')], [{ address: api.host.ipv4, port: null, identities: [API] }]));
  await stateWhen(web.state, (s) => s.xds.CDS!.acks >= 5, 'meshed again');
  assert.equal(await firstLine(web.host, api.host.ipv4, 7000), 'api tcp 7000', 'STRICT: mesh mTLS still gets in');
  const final = await stateWhen(api.state, () => true, 'state');
  assert.equal(final.state.xds.LDS!.nacks + final.state.xds.CDS!.nacks, 0, 'nothing the agent sent was refused');
});
