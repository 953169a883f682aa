import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';

/**
 * `unix-forward DIR PORT...`: run inside a network namespace, makes each loopback TCP PORT of that namespace
 * reachable from outside it as the Unix socket DIR/PORT.sock (a path in the shared file system). A refused
 * port shows as a connection closed at once. Prints `ready` once every socket listens; SIGTERM ends it.
 */
const [dir, ...ports] = process.argv.slice(2);
if (!dir || ports.length === 0 || ports.some((p) => !/^\d{1,5}$/.test(p))) {
  process.stderr.write('usage: unix-forward DIR PORT...\n');
  process.exit(2);
}

function forward(port: number): Promise<Server> {
  const server = createServer((outside) => {
    const inside = connect(port, '127.0.0.1');
    for (const s of [outside, inside]) s.on('error', () => { outside.destroy(); inside.destroy(); });
    outside.pipe(inside).pipe(outside);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(join(dir!, `${port}.sock`), () => resolve(server));
  });
}

const servers = await Promise.all(ports.map((p) => forward(Number(p)))).catch((err: Error) => {
  process.stderr.write(`unix-forward: ${err.message}\n`);
  process.exit(1);
});
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  for (const s of servers) s.close();
  process.exit(0);
});
