import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { selectChain } from './chain-match.js';
import { inspect, type Inspected } from './client-hello.js';
import { sanProblem, tlsPlan } from './mesh-tls.js';
import { originalDestination, type Destination } from './original-dst.js';
import { prefixed } from './prefixed-stream.js';
import type { TlsMaterial } from './sds-subscriber.js';

type Json = Record<string, any>;

export interface ConnectionDeps {
  listener(): Json | undefined;
  cluster(name: string): Json | undefined;
  secret(name: string): TlsMaterial;
  /** One count per connection: `<listener>/<chain>` or `<listener>/<why it was closed>`. */
  count(key: string): void;
}

/**
 * One connection to an LDS listener, as Envoy would handle it with the filters the stand-in knows: original_dst
 * restores the destination, tls_inspector reads the ClientHello, the filter chain is chosen, its transport socket
 * terminates TLS (checking the client's SAN), and the chain's tcp_proxy (or HTTP connection manager, forwarded
 * as bytes) goes to its cluster: ORIGINAL_DST, with mesh mTLS when the cluster has a transport socket.
 * RBAC filters are not evaluated (src/policy's tests cover what they say).
 */
export async function handleConnection(socket: Socket, d: ConnectionDeps): Promise<void> {
  socket.pause();
  socket.on('error', () => undefined);
  const listener = d.listener();
  if (!listener) return void socket.destroy();
  const name = listener.name as string;
  const filters = (listener.listener_filters ?? []).map((f: Json) => f.name);
  const dst = filters.includes('envoy.filters.listener.original_dst') ? await originalDestination(socket) : null;
  // Not redirected: Envoy would forward to its own listener address, a loop; close as a refused passthrough.
  if (!dst) return close(socket, d, `${name}/not-redirected`);
  const { head, inspected } = filters.includes('envoy.filters.listener.tls_inspector') ? await readHello(socket, timeoutMs(listener)) : { head: Buffer.alloc(0), inspected: { transport: 'raw_buffer', alpn: [] } as Inspected };
  const chain = selectChain(listener, { ...dst, ...inspected });
  if (!chain) return close(socket, d, `${name}/no-chain`);
  const key = `${name}/${chain.name ?? 'default'}`;
  d.count(key);
  let downstream: Duplex = prefixed(socket, head);
  const ts = chain.transport_socket?.typed_config;
  if (ts) {
    const terminated = await terminateTls(downstream, ts, d);
    if (!terminated) return close(downstream, d, `${key}/tls-refused`);
    downstream = terminated;
  }
  const cluster = d.cluster(terminalCluster(chain) ?? '');
  if (!cluster || cluster.type !== 'ORIGINAL_DST') return close(downstream, d, `${key}/no-cluster`);
  const upstream = await dial(dst, cluster, d);
  if (!upstream) return close(downstream, d, `${key}/upstream-refused`);
  downstream.pipe(upstream).pipe(downstream);
  const both = () => { downstream.destroy(); upstream.destroy(); };
  downstream.on('error', both).on('close', () => upstream.end());
  upstream.on('error', both).on('close', () => downstream.end());
}

function close(socket: Duplex, d: ConnectionDeps, key: string): void {
  d.count(key);
  socket.destroy();
}

function timeoutMs(listener: Json): number {
  const m = /^(\d+(?:\.\d+)?)s$/.exec(String(listener.listener_filters_timeout ?? '15s'));
  return m ? Number(m[1]) * 1000 : 15_000;
}

/** tls_inspector: the first bytes, until they show a ClientHello or not (or the listener filter timeout). */
function readHello(socket: Socket, ms: number): Promise<{ head: Buffer; inspected: Inspected }> {
  return new Promise((resolve) => {
    let head = Buffer.alloc(0);
    const done = (inspected: Inspected) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.pause();
      resolve({ head, inspected });
    };
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const found = inspect(head);
      if (found) done(found);
    };
    const timer = setTimeout(() => done({ transport: 'raw_buffer', alpn: [] }), ms);
    socket.on('data', onData);
    socket.resume();
  });
}

function terminalCluster(chain: Json): string | undefined {
  const last = (chain.filters ?? []).at(-1)?.typed_config ?? {};
  return last.cluster ?? last.route_config?.virtual_hosts?.[0]?.routes?.[0]?.route?.cluster;
}

async function terminateTls(downstream: Duplex, ctx: Json, d: ConnectionDeps): Promise<TLSSocket | null> {
  const plan = tlsPlan(ctx, d.secret);
  if (!plan.cert.chain || !plan.cert.key || !plan.ca.ca) return null;
  const tls = new TLSSocket(downstream as Socket, {
    isServer: true,
    secureContext: createSecureContext({ cert: plan.cert.chain, key: plan.cert.key, ca: plan.ca.ca, minVersion: plan.minVersion, maxVersion: plan.maxVersion }),
    requestCert: ctx.require_client_certificate === true,
    rejectUnauthorized: ctx.require_client_certificate === true,
    ALPNProtocols: plan.alpn,
  });
  tls.on('error', () => undefined);
  const ok = await new Promise<boolean>((resolve) => {
    tls.once('secure', () => resolve(sanProblem(tls.getPeerCertificate(false)?.raw, plan.sans) === null));
    tls.once('error', () => resolve(false));
    tls.once('close', () => resolve(false));
  });
  return ok ? tls : null;
}

async function dial(dst: Destination, cluster: Json, d: ConnectionDeps): Promise<Duplex | null> {
  const raw = connect({ host: dst.address, port: dst.port });
  raw.on('error', () => undefined);
  const ts = cluster.transport_socket?.typed_config;
  if (!ts) return raw;
  const plan = tlsPlan(ts, d.secret);
  if (!plan.cert.chain || !plan.cert.key || !plan.ca.ca) return (raw.destroy(), null);
  const tls = tlsConnect({
    socket: raw, cert: plan.cert.chain, key: plan.cert.key, ca: plan.ca.ca, ALPNProtocols: plan.alpn,
    minVersion: plan.minVersion, maxVersion: plan.maxVersion,
    // Secure naming replaces host name checks: the SAN must be one the cluster expects.
    checkServerIdentity: (_host, cert) => {
      const problem = sanProblem(cert.raw, plan.sans);
      return problem ? new Error(problem) : undefined;
    },
  });
  tls.on('error', () => undefined);
  return new Promise((resolve) => {
    tls.once('secureConnect', () => resolve(tls));
    tls.once('error', () => resolve(null));
  });
}
