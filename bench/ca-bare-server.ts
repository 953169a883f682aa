import { readFileSync } from 'node:fs';
import { fastify } from 'fastify';

/**
 * Child process for the CA benches: a bare fastify HTTPS server on the CA's route, with the CA's
 * body schema and TLS key type, answering every request with the same bytes the CA answered and
 * doing nothing else, except, if asked, spinning for as long as the raw crypto of one issuance.
 * It is the HTTPS floor: what node, TLS and fastify cost per request before any CA work.
 * argv: a JSON file with { key, cert, body }.
 */
interface BareConfig {
  key: string;
  cert: string;
  body: string;
}

const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as BareConfig;
let spinMicros = 0;

const app = fastify({ https: { key: config.key, cert: config.cert }, logger: false, ajv: { customOptions: { removeAdditional: false, coerceTypes: false } } });
app.post('/v1/certificates', {
  bodyLimit: 64 * 1024,
  schema: {
    body: {
      type: 'object', required: ['csr'], additionalProperties: false,
      properties: { csr: { type: 'string', minLength: 1, maxLength: 32 * 1024 }, ttlSeconds: { type: 'integer' } },
    },
  },
}, async (req, reply) => {
  if (!req.headers.authorization) throw new Error('no token');
  if (spinMicros > 0) spin(spinMicros);
  void reply.type('application/json; charset=utf-8');
  return config.body;
});

function spin(micros: number): void {
  const start = process.cpuUsage();
  for (;;) {
    const used = process.cpuUsage(start);
    if (used.user + used.system >= micros) return;
  }
}

process.on('message', (m: { spinMicros: number }) => {
  spinMicros = m.spinMicros;
  process.send!({ spinMicros });
});

await app.listen({ port: 0, host: '127.0.0.1' });
const addr = app.server.address();
process.send!({ port: typeof addr === 'object' && addr ? addr.port : 0 });
