import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type Server } from 'node:net';
import { parseAppArgs, type AppOptions } from './test-app/args.js';
import { startGrpcHealth } from './test-app/grpc-health.js';

/**
 * The app container of the pod harness: HTTP, TCP and gRPC health on the ports asked for, all on `::`.
 * SIGUSR1 makes it unhealthy (HTTP /healthz 500, gRPC NOT_SERVING, the TCP port closed), SIGUSR2 healthy
 * again, SIGTERM ends it; --exit-after ends it on its own (a Job). Prints `ready` once every port listens.
 */
let healthy = true;

function listen(server: Server | ReturnType<typeof createHttpServer>, port: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`cannot listen on ${what} port ${port}: ${err.code ?? err.message}`)));
    server.listen(port, '::', () => resolve());
  });
}

async function start(o: AppOptions): Promise<void> {
  const closers: Array<() => void> = [];
  if (o.httpPort !== undefined) {
    const http = createHttpServer((req, res) => {
      if ((req.url ?? '').split('?')[0] === '/healthz') res.writeHead(healthy ? 200 : 500, { 'content-type': 'text/plain' }).end(healthy ? 'ok' : 'unhealthy');
      else res.writeHead(200, { 'content-type': 'text/plain' }).end(`${o.name} http\n`);
    });
    await listen(http, o.httpPort, 'HTTP');
    closers.push(() => http.closeAllConnections());
  }
  if (o.tcpPort !== undefined) {
    const tcpPort = o.tcpPort;
    const tcp = createTcpServer((socket) => {
      socket.on('error', () => undefined);
      socket.end(`${o.name} tcp ${tcpPort}\n`);
    });
    await listen(tcp, tcpPort, 'TCP');
    process.on('SIGUSR1', () => tcp.listening && tcp.close());
    process.on('SIGUSR2', () => {
      if (!tcp.listening) listen(tcp, tcpPort, 'TCP').catch((err: Error) => fail(err.message));
    });
  }
  if (o.grpcPort !== undefined) {
    const grpc = await startGrpcHealth(o.grpcPort, () => healthy);
    closers.push(() => grpc.forceShutdown());
  }
  process.on('SIGUSR1', () => (healthy = false));
  process.on('SIGUSR2', () => (healthy = true));
  process.once('SIGTERM', () => {
    for (const close of closers) close();
    process.exit(0);
  });
  if (o.exitAfterMs !== undefined) setTimeout(() => process.exit(o.exitCode), o.exitAfterMs);
  process.stdout.write('ready\n');
}

function fail(message: string, code = 1): never {
  process.stderr.write(`test-app: ${message.replaceAll('\n', '\ntest-app: ')}\n`);
  process.exit(code);
}

let options: AppOptions;
try {
  options = parseAppArgs(process.argv.slice(2));
} catch (err) {
  fail((err as Error).message, 2);
}
start(options).catch((err: Error) => fail(err.message));
