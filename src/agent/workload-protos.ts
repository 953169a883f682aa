import type * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs/light.js';
import { GOOGLE_PROTOBUF_STRUCT } from '../common/struct-proto.js';

/**
 * The SPIFFE Workload API (SPIFFE_Workload_API.md, "X.509-SVID Profile" and "JWT-SVID Profile"), written
 * from the standard's field numbers as protobufjs JSON. The standard's file declares no package, so the
 * service's gRPC path is /SpiffeWorkloadAPI/<method>, as SPIFFE clients call it. google.protobuf.Struct
 * is declared here too: protobufjs' light build has no well-known types, and parsing .proto text at
 * start would need its parser in the agent. test/agent/workload-protos.test.ts checks this against a
 * .proto parsed from the standard's text.
 */
export const WORKLOAD_SERVICE = 'SpiffeWorkloadAPI';

const bytes = (id: number) => ({ type: 'bytes', id });
const str = (id: number) => ({ type: 'string', id });

export const WORKLOAD_TYPES = {
  nested: {
    X509SVIDRequest: { fields: {} },
    X509SVIDResponse: {
      fields: {
        svids: { rule: 'repeated', type: 'X509SVID', id: 1 },
        crl: { rule: 'repeated', type: 'bytes', id: 2 },
        federated_bundles: { keyType: 'string', type: 'bytes', id: 3 },
      },
    },
    X509SVID: { fields: { spiffe_id: str(1), x509_svid: bytes(2), x509_svid_key: bytes(3), bundle: bytes(4), hint: str(5) } },
    X509BundlesRequest: { fields: {} },
    X509BundlesResponse: {
      fields: { crl: { rule: 'repeated', type: 'bytes', id: 1 }, bundles: { keyType: 'string', type: 'bytes', id: 2 } },
    },
    JWTSVIDRequest: { fields: { audience: { rule: 'repeated', type: 'string', id: 1 }, spiffe_id: str(2) } },
    JWTSVIDResponse: { fields: { svids: { rule: 'repeated', type: 'JWTSVID', id: 1 } } },
    JWTSVID: { fields: { spiffe_id: str(1), svid: str(2), hint: str(3) } },
    JWTBundlesRequest: { fields: {} },
    JWTBundlesResponse: { fields: { bundles: { keyType: 'string', type: 'bytes', id: 1 } } },
    ValidateJWTSVIDRequest: { fields: { audience: str(1), svid: str(2) } },
    ValidateJWTSVIDResponse: { fields: { spiffe_id: str(1), claims: { type: 'google.protobuf.Struct', id: 2 } } },
    SpiffeWorkloadAPI: {
      methods: {
        FetchX509SVID: { requestType: 'X509SVIDRequest', responseType: 'X509SVIDResponse', responseStream: true },
        FetchX509Bundles: { requestType: 'X509BundlesRequest', responseType: 'X509BundlesResponse', responseStream: true },
        FetchJWTSVID: { requestType: 'JWTSVIDRequest', responseType: 'JWTSVIDResponse' },
        FetchJWTBundles: { requestType: 'JWTBundlesRequest', responseType: 'JWTBundlesResponse', responseStream: true },
        ValidateJWTSVID: { requestType: 'ValidateJWTSVIDRequest', responseType: 'ValidateJWTSVIDResponse' },
      },
    },
    google: GOOGLE_PROTOBUF_STRUCT,
  },
} as const;

/** Wire shapes, snake_case as in the standard's messages. */
export interface X509Svid { spiffe_id: string; x509_svid: Buffer; x509_svid_key: Buffer; bundle: Buffer; hint?: string }
export interface X509SvidResponse { svids: X509Svid[]; crl?: Buffer[]; federated_bundles?: Record<string, Buffer> }
export interface X509BundlesResponse { crl?: Buffer[]; bundles: Record<string, Buffer> }
export interface JwtSvidRequest { audience?: string[]; spiffe_id?: string }
export interface JwtSvidResponse { svids: Array<{ spiffe_id: string; svid: string; hint?: string }> }
export interface JwtBundlesResponse { bundles: Record<string, Buffer> }
export interface ValidateJwtSvidRequest { audience?: string; svid?: string }
export interface ValidateJwtSvidResponse { spiffe_id: string; claims: StructMessage }

/** google.protobuf.Struct as protobufjs reads and writes it. */
export interface StructMessage { fields?: Record<string, ValueMessage> }
export interface ValueMessage {
  null_value?: 'NULL_VALUE' | 0;
  number_value?: number;
  string_value?: string;
  bool_value?: boolean;
  struct_value?: StructMessage;
  list_value?: { values?: ValueMessage[] };
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: String, defaults: false, oneofs: false };

let root: protobuf.Root | undefined;
/** protobufjs types are built on the first call, not at agent start: ~25 ms under --jitless that most pods never spend. */
function type(name: string): protobuf.Type {
  root ??= protobuf.Root.fromJSON(WORKLOAD_TYPES as unknown as protobuf.INamespace);
  return root.lookupType(name);
}

function codec(name: string): { serialize(v: object): Buffer; deserialize(b: Buffer): object } {
  let t: protobuf.Type | undefined;
  return {
    serialize: (v) => ((t ??= type(name)).encode(t.fromObject(v)).finish() as Buffer),
    deserialize: (b) => (t ??= type(name)).toObject(t.decode(b), TO_OBJECT),
  };
}

let loaded: grpc.ServiceDefinition | undefined;

/** The service's methods, read from WORKLOAD_TYPES without building any protobufjs type. */
export function workloadService(): grpc.ServiceDefinition {
  if (loaded) return loaded;
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  const methods = WORKLOAD_TYPES.nested[WORKLOAD_SERVICE].methods as Record<string, { requestType: string; responseType: string; responseStream?: boolean }>;
  for (const [name, m] of Object.entries(methods)) {
    const req = codec(m.requestType);
    const res = codec(m.responseType);
    definition[name] = {
      path: `/${WORKLOAD_SERVICE}/${name}`,
      requestStream: false,
      responseStream: m.responseStream === true,
      requestSerialize: req.serialize,
      requestDeserialize: req.deserialize,
      responseSerialize: res.serialize,
      responseDeserialize: res.deserialize,
      originalName: name.charAt(0).toLowerCase() + name.slice(1),
    };
  }
  loaded = definition;
  return loaded;
}
