import * as grpc from '@grpc/grpc-js';
import { CA_BODY_LIMIT } from '../api.js';
import { istioCaService } from './proto.js';
import { createCertificateHandler, type IstioCaDeps } from './service.js';

/** The serving certificate as the CA REST API has it; `subscribe` calls back at once and on every renewal. */
export type ServingCertSubscribe = (listener: (c: { key: string; cert: string }) => void) => () => void;

export interface IstioCaServer {
  port: number;
  close(): Promise<void>;
}

/**
 * The Istio CA API on gRPC over TLS with the CA API's serving certificate, followed when it is renewed.
 * Messages over the REST API's body limit are refused by grpc-js (RESOURCE_EXHAUSTED) before they are buffered.
 */
export async function startIstioCaServer(deps: IstioCaDeps & { servingCert: ServingCertSubscribe; host: string; port: number }): Promise<IstioCaServer> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': CA_BODY_LIMIT });
  server.addService(istioCaService(), { CreateCertificate: createCertificateHandler(deps) });
  const credentials = grpc.experimental.createCertificateProviderServerCredentials(servingCertProvider(deps.servingCert), null, false);
  const address = `${deps.host.includes(':') ? `[${deps.host}]` : deps.host}:${deps.port}`;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, credentials, (err, bound) => (err ? reject(new Error(`cannot listen on ${address} for the Istio CA API: ${err.message}`)) : resolve(bound)));
  });
  return {
    port,
    close: () => new Promise<void>((resolve) => {
      // In-flight calls are short (one signature); a client holding its connection open must not hold up shutdown.
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 1000);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    }),
  };
}

/** grpc-js's hook for replacing a server's certificate without a restart; the first argument it takes is the identity provider. */
function servingCertProvider(subscribe: ServingCertSubscribe): grpc.experimental.CertificateProvider {
  const stops = new Map<grpc.experimental.IdentityCertificateUpdateListener, () => void>();
  return {
    addCaCertificateListener: () => {},
    removeCaCertificateListener: () => {},
    addIdentityCertificateListener(listener) {
      // Deferred: grpc-js registers its own watcher only after this returns, and would miss an update made during the call.
      stops.set(listener, subscribe((c) => queueMicrotask(() => listener({ certificate: Buffer.from(c.cert), privateKey: Buffer.from(c.key) }))));
    },
    removeIdentityCertificateListener(listener) {
      stops.get(listener)?.();
      stops.delete(listener);
    },
  };
}
