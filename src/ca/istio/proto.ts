import type * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs/light.js';
import { GOOGLE_PROTOBUF_STRUCT } from '../../common/struct-proto.js';

export const ISTIO_CA_SERVICE = 'istio.v1.auth.IstioCertificateService';
export const CREATE_CERTIFICATE_PATH = `/${ISTIO_CA_SERVICE}/CreateCertificate`;

/**
 * Istio's CA API (security/v1alpha1/ca.proto) on the wire, written from its field numbers: the
 * messages are identified by package, name and field number alone, so this is the protocol an
 * unmodified istio-agent or ztunnel speaks. Field 2 of the request is unused there too.
 * google.protobuf.Struct is spelled out (struct.proto's numbers) so nothing is read from disk at run
 * time and the esbuild bundle needs no .proto file.
 */
const DESCRIPTOR = {
  nested: {
    istio: { nested: { v1: { nested: { auth: { nested: {
      IstioCertificateRequest: {
        fields: {
          csr: { type: 'string', id: 1 },
          validity_duration: { type: 'int64', id: 3 },
          metadata: { type: 'google.protobuf.Struct', id: 4 },
        },
      },
      IstioCertificateResponse: {
        fields: { cert_chain: { rule: 'repeated', type: 'string', id: 1 } },
      },
      IstioCertificateService: {
        methods: { CreateCertificate: { requestType: 'IstioCertificateRequest', responseType: 'IstioCertificateResponse' } },
      },
    } } } } } },
    google: GOOGLE_PROTOBUF_STRUCT,
  },
};

/** google.protobuf.Value as protobufjs gives it with ONE_OF below: the set field, and `kind` naming it. */
export interface StructValue {
  kind?: string;
  null_value?: string;
  number_value?: number;
  string_value?: string;
  bool_value?: boolean;
  struct_value?: StructMessage;
  list_value?: { values?: StructValue[] };
}

export interface StructMessage {
  fields?: Record<string, StructValue>;
}

export interface IstioCertificateRequest {
  csr?: string;
  /** Seconds; int64 on the wire, a decimal string here so no precision is lost before it is checked. */
  validity_duration?: string | number;
  metadata?: StructMessage;
}

export interface IstioCertificateResponse {
  cert_chain: string[];
}

/** What the server's deserializer hands the handler: bytes that are not this message are refused there, not as INTERNAL by grpc-js. */
export type DecodedRequest = { ok: true; request: IstioCertificateRequest } | { ok: false; reason: string };

const ONE_OF: protobuf.IConversionOptions = { longs: String, enums: String, defaults: false, oneofs: true };

interface Types {
  request: protobuf.Type;
  response: protobuf.Type;
}

let types: Types | undefined;

function loadTypes(): Types {
  if (!types) {
    const root = protobuf.Root.fromJSON(DESCRIPTOR as protobuf.INamespace);
    root.resolveAll();
    types = { request: root.lookupType('istio.v1.auth.IstioCertificateRequest'), response: root.lookupType('istio.v1.auth.IstioCertificateResponse') };
  }
  return types;
}

function encoder(type: protobuf.Type): (value: object) => Buffer {
  return (value) => type.encode(type.fromObject(value)).finish() as Buffer;
}

/**
 * The service for grpc-js: the server registers it (requests decode to a DecodedRequest, never a throw),
 * and a client built from it (tests, bench) sends requests and reads responses as plain messages.
 */
export function istioCaService(): grpc.ServiceDefinition {
  const { request, response } = loadTypes();
  return {
    CreateCertificate: {
      path: CREATE_CERTIFICATE_PATH,
      requestStream: false,
      responseStream: false,
      requestSerialize: encoder(request),
      requestDeserialize: (bytes: Buffer): DecodedRequest => {
        try {
          return { ok: true, request: request.toObject(request.decode(bytes), ONE_OF) as IstioCertificateRequest };
        } catch (err) {
          return { ok: false, reason: (err as Error).message.slice(0, 120) };
        }
      },
      responseSerialize: encoder(response),
      responseDeserialize: (bytes: Buffer) => response.toObject(response.decode(bytes), ONE_OF) as IstioCertificateResponse,
      originalName: 'createCertificate',
    },
  };
}
