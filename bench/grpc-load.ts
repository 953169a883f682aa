import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { istioCaService } from '../src/ca/istio/proto.js';
import type { LoadResult } from './https-load.js';

export interface IstioCall {
  metadata: grpc.Metadata;
  request: { csr: string };
}

/** One call's bytes prepared before the clock starts: its bearer metadata and its request. */
export function istioCall(token: string, csr: string): IstioCall {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return { metadata, request: { csr } };
}

/**
 * A closed loop of CreateCertificate calls: `channels` HTTP/2 connections (each its own subchannel,
 * as separate istio-agents would hold), `perChannel` calls in flight on each, for `durationMs`.
 */
export async function istioCaLoad(address: string, roots: string, calls: IstioCall[], channels: number, perChannel: number, durationMs: number): Promise<LoadResult> {
  const service = istioCaService();
  const method = service.CreateCertificate!;
  const Client = grpc.makeGenericClientConstructor(service, 'IstioCertificateService');
  const credentials = grpc.credentials.createSsl(Buffer.from(roots));
  const options = { 'grpc.use_local_subchannel_pool': 1, 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' };
  const clients = Array.from({ length: channels }, () => new Client(address, credentials, options));
  await Promise.all(clients.map((c) => new Promise<void>((resolve, reject) => c.waitForReady(Date.now() + 5000, (err) => (err ? reject(err) : resolve())))));
  const result: LoadResult = { requests: 0, seconds: 0, latenciesMs: [], errors: 0 };
  let next = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  const one = (client: grpc.Client): Promise<void> => new Promise((resolve) => {
    const call = calls[next++ % calls.length]!;
    const t0 = performance.now();
    client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, call.request, call.metadata, (err: grpc.ServiceError | null) => {
      if (err) {
        result.errors++;
        result.firstError ??= `${grpc.status[err.code]}: ${err.details}`;
      }
      result.latenciesMs.push(performance.now() - t0);
      resolve();
    });
  });
  await Promise.all(clients.flatMap((client) => Array.from({ length: perChannel }, async () => {
    while (performance.now() < deadline) await one(client);
  })));
  result.seconds = (performance.now() - started) / 1000;
  result.requests = result.latenciesMs.length;
  for (const c of clients) c.close();
  return result;
}
