import { generateKeyPairSync, sign } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { algorithmIdentifier, subjectKeyOf } from '../../src/pki/certificate.js';
import { asn1, bitString, contextTag, integer, octets, oid, seq, sequenceOf, set, toDer } from '../../src/pki/der.js';
import { signatureAlgorithmFor } from '../../src/pki/keys.js';
import { OID } from '../../src/pki/oids.js';
import { encodePem } from '../../src/pki/pem.js';
import { istioCaService, type IstioCertificateRequest, type IstioCertificateResponse } from '../../src/ca/istio/proto.js';

export interface IstioCallResult {
  code: grpc.status;
  details: string;
  chain: string[];
}

export interface IstioClient {
  create(request: IstioCertificateRequest | Buffer, token?: string, metadata?: Record<string, string>): Promise<IstioCallResult>;
  close(): void;
}

/**
 * A gRPC client of the project's proto over TLS, trusting only `roots`, as istio-agent dials
 * CA_ADDR=meshid.meshid-system.svc:15013: the serving certificate is checked for `servername`, by
 * default that Service name. A Buffer request goes out as raw bytes.
 */
export function istioClient(address: string, roots: string, o: { servername?: string } = {}): IstioClient {
  const servername = o.servername ?? 'meshid.meshid-system.svc';
  const service = istioCaService();
  const raw = { CreateCertificate: { ...service.CreateCertificate!, requestSerialize: (b: object) => (Buffer.isBuffer(b) ? b : service.CreateCertificate!.requestSerialize(b)) } };
  const Client = grpc.makeGenericClientConstructor(raw, 'IstioCertificateService');
  const options: grpc.ChannelOptions = { 'grpc.ssl_target_name_override': servername, 'grpc.default_authority': servername };
  const client = new Client(address, grpc.credentials.createSsl(Buffer.from(roots)), options);
  return {
    create(request, token, extra = {}) {
      const md = new grpc.Metadata();
      if (token !== undefined) md.set('authorization', `Bearer ${token}`);
      for (const [k, v] of Object.entries(extra)) md.add(k, v);
      return new Promise((resolve) => {
        client.makeUnaryRequest(service.CreateCertificate!.path, raw.CreateCertificate.requestSerialize, service.CreateCertificate!.responseDeserialize,
          request, md, { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null, res?: IstioCertificateResponse) => {
            resolve(err ? { code: err.code, details: err.details, chain: [] } : { code: grpc.status.OK, details: '', chain: res?.cert_chain ?? [] });
          });
      });
    },
    close: () => client.close(),
  };
}

/**
 * A CSR shaped as istio-agent's (Go's x509.CreateCertificateRequest from pkiutil.GenCSRTemplate): subject
 * O="" as a PrintableString, the SPIFFE ID as a non-critical URI SAN (or no extension request at all),
 * ECDSA-SHA256 or SHA256-RSA. Returns the private key too, to match the leaf against it.
 */
export function istioAgentCsr(key: 'ec-p256' | 'rsa-2048', spiffeId?: string): { csr: string; keyPem: string } {
  const pair = key === 'ec-p256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const printable = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.PRINTABLESTRING, false, '');
  const subject = toDer(seq([set([seq([oid(OID.organization), printable])])]));
  const requested = spiffeId ? [seq([oid(OID.extensionRequest), set([seq([seq([oid(OID.subjectAltName), octets(toDer(seq([contextTag(6, false, spiffeId)])))])])])])] : [];
  const attributes = toDer(contextTag(0, true, requested));
  const info = sequenceOf([toDer(integer(Buffer.from([0]))), subject, subjectKeyOf(pair.publicKey).spkiDer, attributes]);
  const alg = signatureAlgorithmFor(pair.privateKey);
  const signature = sign(alg.hash, info, { key: pair.privateKey, dsaEncoding: 'der' });
  return {
    csr: encodePem('CERTIFICATE REQUEST', sequenceOf([info, algorithmIdentifier(alg.oid, alg.rsa), toDer(bitString(signature))])),
    keyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}
