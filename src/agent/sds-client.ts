import * as grpc from '@grpc/grpc-js';
import { access, constants } from 'node:fs/promises';
import { sdsProtos, SECRET_TYPE_URL, type DiscoveryRequest, type DiscoveryResponse } from './sds-protos.js';
import { DEFAULT_SECRET, ROOT_SECRET } from './secrets.js';

/** What the agent serves, as Envoy receives it; the private key is dropped on arrival. */
export interface SdsView {
  chainPem: string;
  bundlePem: string;
}

/** Asks the agent's SDS socket for `default` and `ROOTCA` as Envoy does (StreamSecrets, SotW), then hangs up. */
export async function fetchFromSds(socketPath: string, timeoutMs = 5000): Promise<SdsView> {
  try {
    await access(socketPath, constants.R_OK | constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`no SDS socket at ${socketPath}: is the agent running, with this --sds-socket?`);
    if (code === 'EACCES') throw new Error(`permission denied on the SDS socket ${socketPath}: it is owner-only; run as the agent's user`);
    throw new Error(`cannot use the SDS socket ${socketPath}: ${code}`);
  }
  const Client = grpc.makeGenericClientConstructor(sdsProtos().service, 'SecretDiscoveryService');
  const client = new Client(`unix://${socketPath}`, grpc.credentials.createInsecure());
  const call = (client as unknown as { StreamSecrets(): grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> }).StreamSecrets();
  const { decodeSecret } = sdsProtos();
  try {
    return await new Promise<SdsView>((resolve, reject) => {
      const got: Partial<SdsView> = {};
      const timer = setTimeout(() => reject(new Error(`the agent at ${socketPath} sent no SVID within ${timeoutMs / 1000}s: it may not hold one yet (see its /healthz/ready)`)), timeoutMs);
      call.on('data', (res: DiscoveryResponse) => {
        for (const any of res.resources) {
          const s = decodeSecret(any.value);
          if (s.name === DEFAULT_SECRET) got.chainPem = s.tls_certificate?.certificate_chain?.inline_bytes?.toString('utf8');
          if (s.name === ROOT_SECRET) got.bundlePem = s.validation_context?.trusted_ca?.inline_bytes?.toString('utf8');
        }
        call.write({ type_url: SECRET_TYPE_URL, version_info: res.version_info, response_nonce: res.nonce, resource_names: [DEFAULT_SECRET, ROOT_SECRET] });
        if (got.chainPem && got.bundlePem) {
          clearTimeout(timer);
          resolve({ chainPem: got.chainPem, bundlePem: got.bundlePem });
        }
      });
      call.on('error', (err: grpc.ServiceError) => {
        clearTimeout(timer);
        reject(new Error(`SDS at ${socketPath}: ${err.details || err.message}`));
      });
      call.write({ type_url: SECRET_TYPE_URL, node: { id: 'meshid-svid-show', cluster: 'meshid-cli' }, resource_names: [DEFAULT_SECRET, ROOT_SECRET] });
    });
  } finally {
    call.cancel();
    client.close();
  }
}
