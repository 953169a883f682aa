/**
 * Child process of the injector bench: the webhook, built as `meshid serve` builds it, and a bare fastify
 * HTTPS server, side by side in one process so that the load client never shares their event loop and
 * each one's CPU time can be read between load slices. Driven over IPC by bench/injector.ts.
 */
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { silentLogger } from '../src/common/log.js';
import { installErrorHandling } from '../src/common/http-errors.js';
import { injectorConfig } from '../src/injector/config.js';
import { registerInjector } from '../src/injector/webhook.js';
import { selfSign, signCertificate, signerFor, subjectKeyOf } from '../src/pki/certificate.js';
import { generateKeyPair, privateKeyPem } from '../src/pki/keys.js';
import { encodePem } from '../src/pki/pem.js';
import { rootCaTemplate, serialFrom, servingTemplate } from '../src/pki/templates.js';

export type ToServers = { cmd: 'cpu' } | { cmd: 'bare-body'; body: string } | { cmd: 'exit' };
export type FromServers =
  | { kind: 'ready'; caPem: string; injectorPort: number; barePort: number }
  | { kind: 'cpu'; micros: number }
  | { kind: 'bare-body-set' };

const tls = servingMaterial();
const https = { cert: tls.certPem, key: tls.keyPem };

// Same construction as src/controlplane/start.ts: error handling first, then the route.
const injector = Fastify({ https, logger: false });
installErrorHandling(injector, silentLogger);
registerInjector(injector, { config: injectorConfig(), registry: new Registry(), logger: silentLogger });

// The ceiling: TLS, HTTP and JSON body parsing of the same request, then the webhook's exact answer
// bytes, ready-made in a Buffer: the cheapest way fastify can send them.
let answer = Buffer.alloc(0);
const bare = Fastify({ https, logger: false });
installErrorHandling(bare, silentLogger);
bare.post('/inject', { bodyLimit: 8 * 1024 * 1024 }, async (_req, reply) => reply.type('application/json; charset=utf-8').send(answer));

const send = (m: FromServers) => process.send!(m);
process.on('message', (m: ToServers) => {
  if (m.cmd === 'cpu') {
    const u = process.cpuUsage();
    send({ kind: 'cpu', micros: u.user + u.system });
  } else if (m.cmd === 'bare-body') {
    answer = Buffer.from(m.body);
    send({ kind: 'bare-body-set' });
  } else {
    void Promise.all([injector.close(), bare.close()]).then(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));

send({ kind: 'ready', caPem: tls.caPem, injectorPort: await listen(injector), barePort: await listen(bare) });

async function listen(app: FastifyInstance): Promise<number> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as { port: number }).port;
}

function servingMaterial(): { caPem: string; certPem: string; keyPem: string } {
  const now = Date.now();
  const root = generateKeyPair();
  const rootDer = selfSign(rootCaTemplate({ now, ttlMs: 3_600_000, serial: serialFrom(randomBytes(16)), trustDomain: 'bench.local', label: 'bench' }), root.privateKey, root.publicKey);
  const leaf = generateKeyPair();
  const leafDer = signCertificate(
    servingTemplate({ now, ttlMs: 3_000_000, serial: serialFrom(randomBytes(16)), dnsNames: ['localhost'], ips: ['127.0.0.1'], rsaKey: false, issuerNotAfter: now + 3_600_000 }),
    subjectKeyOf(leaf.publicKey),
    signerFor(rootDer, root.privateKey),
  );
  return { caPem: encodePem('CERTIFICATE', rootDer), certPem: encodePem('CERTIFICATE', leafDer), keyPem: privateKeyPem(leaf.privateKey) };
}
