import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { labelNamespace, standinState, startHarness, startTestHost } from './harness.js';
import type { PodRun } from './kubelet.js';
import { markerLine } from './programs/standin/listeners.js';
import { plainPod } from './workloads.js';

/** Node one-liner run inside a container: connect, print the first line the other side sends (Envoy's passthrough of a server-first protocol waits out tls_inspector's 1 s). */
const FIRST_LINE = `const [h,p]=process.argv.slice(1);const s=require('node:net').connect({host:h,port:+p});let b='';s.on('data',d=>{b+=d;if(b.includes('\\n')){console.log(b.split('\\n')[0]);process.exit(0)}});s.on('error',e=>{console.log('error '+e.code);process.exit(1)});setTimeout(()=>{console.log('timeout');process.exit(1)},8000)`;

async function firstLineFrom(run: PodRun, container: string, host: string, port: number): Promise<string> {
  const r = await run.exec(container, ['node', '-e', FIRST_LINE, host, String(port)]);
  return r.output.trim();
}

function firstLineTo(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: 8000 });
    let b = '';
    s.on('data', (d) => {
      b += d;
      if (b.includes('\n')) {
        s.destroy();
        resolve(b.split('\n')[0]!);
      }
    });
    s.on('connect', () => port === 15020 || port === 15021 ? s.write('GET /healthz/ready HTTP/1.1\r\nhost: x\r\n\r\n') : undefined);
    s.on('timeout', () => s.destroy(new Error('timeout')));
    s.on('error', (err) => resolve(`error ${err.message}`));
  });
}

/** Connections the stand-in took on an LDS listener's chain: how a test tells a redirected connection from a direct one. */
const taken = (run: PodRun, key: string): number => standinState(run).connections?.[key] ?? 0;

/** The state file is written just after the count; give it a moment. */
async function takenReaches(run: PodRun, key: string, n: number): Promise<number> {
  for (const end = Date.now() + 3000; Date.now() < end && taken(run, key) < n; ) await new Promise((r) => setTimeout(r, 25));
  return taken(run, key);
}

test('the init container\'s rules redirect real connections: app outbound to 15001, inbound to 15006, never uid 1337 or the agent\'s ports, IPv6 as IPv4; both pass through to where they were going', async (t) => {
  const h = await startHarness(t);
  labelNamespace(h.fake, 'shop');
  const created = await h.createPod('shop', plainPod('shop', 'client', { args: ['--name', 'client', '--http-port', '8080', '--tcp-port', '9000'] }));
  assert.ok('pod' in created, JSON.stringify(created));
  const run = await h.run(created.pod);
  await run.waitReady(60_000);
  const remote = await startTestHost(t, h, ['--name', 'remote', '--tcp-port', '7000']);

  for (const [family, pod, other] of [['IPv4', run.host!.ipv4, remote.ipv4], ['IPv6', run.host!.ipv6!, remote.ipv6!]] as const) {
    const [out, inb] = [taken(run, 'virtualOutbound/outbound|passthrough'), taken(run, 'virtualInbound/inbound|any|passthrough')];
    assert.equal(await firstLineFrom(run, 'app', other, 7000), 'remote tcp 7000', `${family}: the app's outbound connection reaches its destination`);
    assert.equal(await takenReaches(run, 'virtualOutbound/outbound|passthrough', out + 1), out + 1, `${family}: through Envoy's 15001 (plaintext passthrough: the remote host is not meshed)`);
    assert.equal(await firstLineFrom(run, 'meshid-proxy', other, 7000), 'remote tcp 7000', `${family}: the proxy's own uid is not redirected`);
    assert.equal(taken(run, 'virtualOutbound/outbound|passthrough'), out + 1, `${family}: and does not pass 15001`);
    assert.equal(await firstLineTo(pod, 9000), 'client tcp 9000', `${family}: inbound to an app port reaches the app`);
    assert.equal(await takenReaches(run, 'virtualInbound/inbound|any|passthrough', inb + 1), inb + 1, `${family}: through 15006 (PERMISSIVE passes plaintext through)`);
    assert.equal(await firstLineTo(pod, 15090), markerLine('prometheus', 15090).trim(), `${family}: 15090 is reached directly`);
    for (const port of [15020, 15021]) assert.match(await firstLineTo(pod, port), /^HTTP\/1\.1 /, `${family}: ${port} answers as the agent, not redirected`);
  }
});
