import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { startAgent } from '../src/agent/agent.js';
import type { AgentConfig } from '../src/agent/config.js';
import { sdsProtos, type DiscoveryRequest, type DiscoveryResponse } from '../src/agent/sds-protos.js';
import { CLUSTER_TYPE_URL, LISTENER_TYPE_URL } from '../src/agent/xds/config-type-names.js';
import { SettablePlanSource } from '../src/agent/xds/plan-source.js';
import type { MeshDestination } from '../src/mesh/view.js';

/**
 * A process that is one agent whose Envoy asks for listeners and clusters: the agent (in process, as `meshid agent`
 * runs it) with a plan of N meshed destinations, and an LDS and a CDS stream that ACK as Envoy does. Prints, on
 * stdout, the ms from asking to both responses and their sizes, then idles so the parent reads its RSS.
 */
const [configFile, count] = process.argv.slice(2);
const config = JSON.parse(readFileSync(configFile!, 'utf8')) as AgentConfig;
const n = Number(count);
const destinations: MeshDestination[] = Array.from({ length: n }, (_, i) => ({
  address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: i % 2 ? 8080 : null, identities: [`spiffe://cluster.local/ns/ns${i % 50}/sa/sa${i % 7}`],
}));
const plans = new SettablePlanSource({ trustDomain: 'cluster.local', inbound: [{ port: null, mode: 'PERMISSIVE', http: false, networkRbac: [], httpRbac: [] }], outbound: destinations });
const agent = await startAgent(config, { plans });
await agent.ready();

/** The first response of a stream that then ACKs every response; `later` resolves with the next one. */
function ask(service: grpc.ServiceDefinition, method: string, typeUrl: string): Promise<DiscoveryResponse> {
  const Client = grpc.makeGenericClientConstructor(service, method);
  const client = new Client(`unix://${config.sdsSocket}`, grpc.credentials.createInsecure());
  const call = (client as unknown as Record<string, () => grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>>)[method]!.call(client);
  call.on('error', () => undefined);
  call.write({ type_url: typeUrl, node: { id: 'sidecar~bench' } });
  call.on('data', (r: DiscoveryResponse) => {
    call.write({ type_url: typeUrl, version_info: r.version_info, response_nonce: r.nonce });
    (waiting.get(method) ?? []).shift()?.(r);
  });
  return next(method);
}

const waiting = new Map<string, Array<(r: DiscoveryResponse) => void>>();
function next(method: string): Promise<DiscoveryResponse> {
  return new Promise((resolve) => waiting.set(method, [...(waiting.get(method) ?? []), resolve]));
}

const started = performance.now();
const [cds, lds] = await Promise.all([ask(sdsProtos().cds, 'StreamClusters', CLUSTER_TYPE_URL), ask(sdsProtos().lds, 'StreamListeners', LISTENER_TYPE_URL)]);
const ms = performance.now() - started;
const changed = performance.now();
const both = Promise.all([next('StreamClusters'), next('StreamListeners')]);
plans.set({ ...plans.current(), outbound: [...destinations, { address: '10.255.255.255', port: null, identities: ['spiffe://cluster.local/ns/new/sa/new'] }] });
await both;
const size = (r: DiscoveryResponse) => r.resources.reduce((s, x) => s + x.value.length, 0);
process.stdout.write(`${JSON.stringify({ ms, updateMs: performance.now() - changed, ldsBytes: size(lds), cdsBytes: size(cds) })}\n`);
setInterval(() => undefined, 1000);
