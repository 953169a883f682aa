import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { connect } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { ControlPlane } from '../../src/controlplane/start.js';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { MAX_STREAMS } from '../../src/agent/workload-api.js';
import { agentConfig, startCa } from './helpers.js';
import { decodeBundles, HEADER, workloadClient, type X509SvidResponse } from './workload-client.js';

let cp: ControlPlane;
let agent: RunningAgent;
before(async () => {
  cp = await startCa();
  agent = await startAgent(await agentConfig(cp));
  await agent.ready();
});
after(async () => {
  await agent.stop();
  await cp.close();
});

const serial = (r: X509SvidResponse) => r.svids[0]!.x509_svid.toString('base64');
const waitUntil = async (cond: () => boolean, what: string, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (${agent.workload.streamCount} streams open)`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

test(`${MAX_STREAMS} concurrent streams over several connections all get the SVID at once; one more is shed with UNAVAILABLE`, async () => {
  // Each client its own connection (grpc-js would otherwise share one between them).
  const clients = Array.from({ length: 6 }, () => workloadClient(agent.workload.socketPath, HEADER, { 'grpc.use_local_subchannel_pool': 1 }));
  try {
    const streams = Array.from({ length: MAX_STREAMS }, (_, i) => clients[i % clients.length]!.x509Svids());
    const firsts = await Promise.all(streams.map((s) => s.next(15_000)));
    assert.equal(new Set(firsts.map(serial)).size, 1, 'every stream has the same SVID');
    assert.equal(agent.workload.streamCount, MAX_STREAMS);
    const extra = await clients[0]!.x509Svids().status;
    assert.equal(extra.code, grpc.status.UNAVAILABLE);
    assert.match(extra.details, /retry later/);
    for (const s of streams) s.close();
    await waitUntil(() => agent.workload.streamCount === 0, 'the closed streams to be forgotten');
    const again = clients[1]!.x509Svids();
    assert.ok(serial(await again.next()), 'served again once they closed');
    again.close();
    await waitUntil(() => agent.workload.streamCount === 0, 'that stream to close too');
  } finally {
    for (const c of clients) c.close();
  }
});

test('a client that never reads holds one buffer, not every update; the others get each update and it gets the latest once it reads', async () => {
  const c = workloadClient(agent.workload.socketPath);
  // node's own HTTP/2 client, paused: unlike grpc-js it stops taking data, so the agent's window fills.
  const session = http2.connect('http://localhost', { createConnection: () => connect(agent.workload.socketPath) });
  session.on('error', () => undefined);
  const stalled = session.request({ ':method': 'POST', ':path': '/SpiffeWorkloadAPI/FetchX509Bundles', 'content-type': 'application/grpc', te: 'trailers', ...HEADER });
  stalled.on('error', () => undefined);
  stalled.end(Buffer.alloc(5));
  stalled.pause();
  try {
    const healthy = c.x509Bundles();
    await healthy.next();
    await waitUntil(() => agent.workload.streamCount === 2, 'both streams open', 15_000);
    const roots = agent.store.roots();
    const other = agent.store.current()!.chainPem[1]!;
    const UPDATES = 400;
    for (let i = 0; i < UPDATES; i++) {
      // Alternating bundles make every step a change; each message carries the full set (1-2 KB).
      agent.store.setBundle(i % 2 === 0 ? [...roots, other] : roots);
      await healthy.next();
    }
    assert.equal(healthy.received.length, UPDATES + 1, 'a reading client gets every update');
    const chunks: Buffer[] = [];
    stalled.on('data', (b: Buffer) => chunks.push(b));
    stalled.resume();
    const latest = healthy.received.at(-1)!;
    await waitUntil(() => {
      const frames = grpcFrames(Buffer.concat(chunks));
      return frames.length > 0 && isDeepStrictEqual(decodeBundles(frames.at(-1)!), latest);
    }, 'the stalled client to get the latest bundle');
    const sent = grpcFrames(Buffer.concat(chunks)).length;
    assert.ok(sent < UPDATES / 2, `the stalled client was sent ${sent} of ${UPDATES + 1} messages`);
  } finally {
    // destroy, not close: a paused stream's close waits for its unread data.
    stalled.destroy();
    session.destroy();
    c.close();
  }
});

/** The messages of a gRPC body: each a 1-byte flag, a 4-byte length and the bytes. */
function grpcFrames(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + 5 <= body.length; ) {
    const len = body.readUInt32BE(at + 1);
    if (at + 5 + len > body.length) break;
    out.push(body.subarray(at + 5, at + 5 + len));
    at += 5 + len;
  }
  return out;
}

test('garbage: undecodable and oversized requests, bad audiences, raw bytes on the socket: each refused alone, the agent serves on', async () => {
  const raw = new grpc.Client(`unix://${agent.workload.socketPath}`, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set('workload.spiffe.io', 'true');
  const unary = (method: string, body: Buffer) =>
    new Promise<grpc.ServiceError | null>((resolve) => raw.makeUnaryRequest(`/SpiffeWorkloadAPI/${method}`, (b: Buffer) => b, (b: Buffer) => b, body, md, (err) => resolve(err)));
  const c = workloadClient(agent.workload.socketPath);
  try {
    const junk = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]);
    for (const method of ['FetchJWTSVID', 'ValidateJWTSVID']) {
      const err = await unary(method, junk);
      assert.ok(err && err.code !== grpc.status.OK, `${method}: undecodable request refused`);
    }
    const big = await unary('ValidateJWTSVID', Buffer.concat([Buffer.from([0x12, 0x80, 0x80, 0x08]), Buffer.alloc(128 * 1024, 0x41)]));
    assert.equal(big?.code, grpc.status.RESOURCE_EXHAUSTED, 'a 128 KB request is refused before decoding');
    const garbageStream = raw.makeServerStreamRequest('/SpiffeWorkloadAPI/FetchX509SVID', (b: Buffer) => b, (b: Buffer) => b, junk, md);
    garbageStream.on('error', () => undefined);
    assert.notEqual((await new Promise<grpc.StatusObject>((r) => garbageStream.on('status', r))).code, grpc.status.OK);

    for (const audience of [[], [''], ['x'.repeat(300)], Array.from({ length: 17 }, (_, i) => `a${i}`)]) {
      await assert.rejects(c.jwtSvid(audience), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /audience/.test(e.details));
    }
    await assert.rejects(c.jwtSvid(['db'], 'spiffe://cluster.local/ns/shop/sa/admin'), (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED);
    await assert.rejects(c.validate('', 'db'), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /svid is required/.test(e.details));
    await assert.rejects(c.validate('not a token', 'db'), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /compact form/.test(e.details));

    // Not HTTP/2 at all.
    await new Promise<void>((resolve) => {
      const s = connect(agent.workload.socketPath, () => s.end(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n\u0000\u00ff garbage')));
      s.on('error', () => resolve());
      s.on('close', () => resolve());
      s.resume();
    });
    const still = c.x509Svids();
    assert.ok(serial(await still.next()), 'still serving');
    still.close();
  } finally {
    raw.close();
    c.close();
  }
});
