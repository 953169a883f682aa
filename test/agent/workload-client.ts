import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

/** The tests' own .proto of the standard, parsed as any gRPC client would: independent of the agent's descriptor. */
export const WORKLOAD_PROTO = fileURLToPath(new URL('../../../test/agent/workload-api.proto', import.meta.url));
const OPTIONS = { keepCase: true, longs: String, enums: String, defaults: false, oneofs: false };

const definition = loadSync(WORKLOAD_PROTO, OPTIONS);
const Client = grpc.makeGenericClientConstructor(
  (definition.SpiffeWorkloadAPI as grpc.ServiceDefinition),
  'SpiffeWorkloadAPI',
);

export const HEADER = { 'workload.spiffe.io': 'true' };

export interface X509Svid { spiffe_id: string; x509_svid: Buffer; x509_svid_key: Buffer; bundle: Buffer; hint?: string }
export interface X509SvidResponse { svids: X509Svid[]; crl?: Buffer[]; federated_bundles?: Record<string, Buffer> }
export interface BundlesResponse { bundles: Record<string, Buffer> }

export interface Stream<T> {
  next(timeoutMs?: number): Promise<T>;
  /** Asserts nothing arrives within `ms`. */
  silence(ms: number): Promise<void>;
  status: Promise<grpc.StatusObject>;
  received: T[];
  close(): void;
}

function metadataOf(headers: Record<string, string | string[]>): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) for (const one of [v].flat()) md.add(k, one);
  return md;
}

function follow<T>(call: grpc.ClientReadableStream<T>): Stream<T> {
  const queue: T[] = [];
  const received: T[] = [];
  const waiters: Array<(r: T) => void> = [];
  call.on('data', (r: T) => {
    received.push(r);
    if (waiters.length) waiters.shift()!(r);
    else queue.push(r);
  });
  call.on('error', () => undefined);
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  return {
    received,
    status,
    next: (timeoutMs = 5000) =>
      queue.length
        ? Promise.resolve(queue.shift()!)
        : new Promise((resolve, reject) => {
            const t = setTimeout(() => reject(new Error(`no Workload API response within ${timeoutMs} ms`)), timeoutMs);
            waiters.push((r) => { clearTimeout(t); resolve(r); });
          }),
    silence: async (ms) => {
      await new Promise((r) => setTimeout(r, ms));
      if (queue.length) throw new Error('unexpected Workload API response');
    },
    close: () => call.cancel(),
  };
}

type Unary<Req, Res> = (req: Req, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res?: Res) => void) => void;
type ServerStream<Req, Res> = (req: Req, md: grpc.Metadata) => grpc.ClientReadableStream<Res>;

/** A SPIFFE Workload API client over the agent's Unix socket; every call carries `headers` (the standard's by default). */
export function workloadClient(socketPath: string, headers: Record<string, string | string[]> = HEADER, options: grpc.ChannelOptions = {}) {
  const client = new Client(`unix://${socketPath}`, grpc.credentials.createInsecure(), options) as unknown as Record<string, unknown> & grpc.Client;
  const stream = <T>(method: string) => follow((client[method] as ServerStream<object, T>).call(client, {}, metadataOf(headers)));
  const unary = <Req, Res>(method: string, req: Req) =>
    new Promise<Res>((resolve, reject) => (client[method] as Unary<Req, Res>).call(client, req, metadataOf(headers), (err, res) => (err ? reject(err) : resolve(res!))));
  return {
    client,
    x509Svids: () => stream<X509SvidResponse>('FetchX509SVID'),
    x509Bundles: () => stream<BundlesResponse>('FetchX509Bundles'),
    jwtBundles: () => stream<BundlesResponse>('FetchJWTBundles'),
    jwtSvid: (audience: string[], spiffeId?: string) =>
      unary<object, { svids: Array<{ spiffe_id: string; svid: string }> }>('FetchJWTSVID', { audience, ...(spiffeId ? { spiffe_id: spiffeId } : {}) }),
    validate: (svid: string, audience: string) =>
      unary<object, { spiffe_id: string; claims: { fields: Record<string, unknown> } }>('ValidateJWTSVID', { svid, audience }),
    close: () => client.close(),
  };
}

/** An X509SVIDResponse's bytes, decoded by the client's definition. */
export const decodeX509Svid = (b: Buffer): X509SvidResponse => (definition.SpiffeWorkloadAPI as grpc.ServiceDefinition).FetchX509SVID!.responseDeserialize(b) as X509SvidResponse;

/** An X509BundlesResponse's bytes, decoded by the client's definition. */
export const decodeBundles = (b: Buffer): BundlesResponse => (definition.SpiffeWorkloadAPI as grpc.ServiceDefinition).FetchX509Bundles!.responseDeserialize(b) as BundlesResponse;

/** Splits concatenated DER certificates (SEQUENCE, long-form length) into one buffer each. */
export function splitDer(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < buf.length) {
    if (buf[at] !== 0x30) throw new Error(`byte ${at} does not start a DER SEQUENCE`);
    const first = buf[at + 1]!;
    let len = first;
    let head = 2;
    if (first & 0x80) {
      const n = first & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + buf[at + 2 + i]!;
      head = 2 + n;
    }
    out.push(buf.subarray(at, at + head + len));
    at += head + len;
  }
  return out;
}

/**
 * google.protobuf.Struct back into JSON, as this client decodes it: protobufjs' bundled struct.proto
 * names the Value fields in camelCase (the wire is the same).
 */
export function fromStruct(s: { fields?: Record<string, unknown> } | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s?.fields ?? {})) out[k] = fromValue(v as Record<string, unknown>);
  return out;
}

function fromValue(v: Record<string, unknown>): unknown {
  if ('numberValue' in v) return v.numberValue;
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('listValue' in v) return ((v.listValue as { values?: Array<Record<string, unknown>> }).values ?? []).map(fromValue);
  if ('structValue' in v) return fromStruct(v.structValue as { fields?: Record<string, unknown> });
  return null;
}

/** The same JSON as a Struct in this client's camelCase naming, to encode with its definition. */
export function toCamelStruct(obj: Record<string, unknown>): object {
  const value = (v: unknown): object => {
    if (v === null) return { nullValue: 'NULL_VALUE' };
    if (typeof v === 'number') return { numberValue: v };
    if (typeof v === 'string') return { stringValue: v };
    if (typeof v === 'boolean') return { boolValue: v };
    if (Array.isArray(v)) return { listValue: { values: v.map(value) } };
    return { structValue: toCamelStruct(v as Record<string, unknown>) };
  };
  return { fields: Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, value(v)])) };
}
