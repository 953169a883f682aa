import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { chainsTo, publishedBundle } from '../helpers/fake-cluster.js';
import { decodeX509Svid, splitDer } from '../agent/workload-client.js';
import { labelNamespace, startHarness } from './harness.js';
import { plainPod } from './workloads.js';

/**
 * Run inside the app container: FetchX509SVID over node's own HTTP/2 client on the socket SPIFFE_ENDPOINT_SOCKET
 * names (the app image has no gRPC library), with the standard's header when argv[1] is "1". Prints the first
 * message as base64, or the call's status.
 */
const FETCH = `const u=new URL(process.env.SPIFFE_ENDPOINT_SOCKET);const h=require('node:http2'),n=require('node:net');
const s=h.connect('http://localhost',{createConnection:()=>n.connect(u.pathname)});s.on('error',e=>{console.log('error '+e.code);process.exit(1)});
const r=s.request({':method':'POST',':path':'/SpiffeWorkloadAPI/FetchX509SVID','content-type':'application/grpc',te:'trailers',...(process.argv[1]==='1'?{'workload.spiffe.io':'true'}:{})});
r.end(Buffer.alloc(5));let b=Buffer.alloc(0);const status=x=>{if(x['grpc-status']!==undefined){console.log('status '+x['grpc-status']+' '+x['grpc-message']);process.exit(0)}};
r.on('response',status);r.on('trailers',status);r.on('error',e=>{console.log('error '+e.code);process.exit(1)});
r.on('data',d=>{b=Buffer.concat([b,d]);if(b.length>=5&&b.length>=5+b.readUInt32BE(1)){console.log('msg '+b.subarray(5,5+b.readUInt32BE(1)).toString('base64'));process.exit(0)}});
setTimeout(()=>{console.log('timeout');process.exit(1)},5000)`;

test('an app container of an injected pod reaches the SPIFFE Workload API at SPIFFE_ENDPOINT_SOCKET, as its own user through a read-only mount, and sees nothing else of the agent\'s', async (t) => {
  const h = await startHarness(t);
  labelNamespace(h.fake, 'shop');
  const created = await h.createPod('shop', { ...plainPod('shop', 'client'), spec: { ...plainPod('shop', 'client').spec, serviceAccountName: 'web' } });
  assert.ok('pod' in created, JSON.stringify(created));
  const run = await h.run(created.pod);
  await run.waitReady(60_000);

  const look = 'const fs=require("fs");let w;try{fs.writeFileSync("/var/run/meshid/workload/x","")}catch(e){w=e.code}console.log(process.env.SPIFFE_ENDPOINT_SOCKET,process.getuid(),fs.readdirSync("/var/run/meshid").join(","),w)';
  const env = await run.exec('app', ['node', '-e', look]);
  assert.equal(env.output.trim(), 'unix:///var/run/meshid/workload/socket 1000 workload EROFS', 'the env points at the socket, in a read-only mount; the folder beside it holds no key');

  const got = await run.exec('app', ['node', '-e', FETCH, '1']);
  assert.match(got.output, /^msg /, got.output);
  const res = decodeX509Svid(Buffer.from(got.output.trim().slice(4), 'base64'));
  assert.equal(res.svids[0]!.spiffe_id, 'spiffe://cluster.local/ns/shop/sa/web');
  const [leaf, ...rest] = splitDer(res.svids[0]!.x509_svid).map((d) => new X509Certificate(d));
  const bundle = publishedBundle(h.fake, 'shop')!;
  assert.ok(chainsTo(leaf!, rest, bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)!), 'the SVID chains to the published bundle');

  const refused = await run.exec('app', ['node', '-e', FETCH, '0']);
  assert.match(refused.output.trim(), new RegExp(`^status ${grpc.status.INVALID_ARGUMENT} `), 'no header: InvalidArgument');
});
