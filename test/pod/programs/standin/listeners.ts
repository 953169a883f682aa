import { createServer, type AddressInfo, type Server } from 'node:net';
import type { HostPort, ListenerPlan } from './bootstrap-plan.js';

export interface BoundListener { name: string; address: string; port: number }

/** The one line each accepted connection gets, so tests see which listener (and port) a connection reached. */
export function markerLine(name: string, localPort: number): string {
  return `envoy-standin listener=${name} port=${localPort}\n`;
}

/**
 * Binds every address of every listener. A failure closes what was bound and rejects with Envoy's wording
 * (`cannot bind '0.0.0.0:15001': Address already in use`), since Envoy refuses to start then too.
 */
export async function bindListeners(plans: ListenerPlan[]): Promise<{ bound: BoundListener[]; close(): Promise<void> }> {
  const servers: Server[] = [];
  const bound: BoundListener[] = [];
  const close = () => Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => undefined);
  try {
    for (const plan of plans) {
      for (const addr of plan.addresses) {
        const server = await listen(plan.name, addr);
        servers.push(server);
        bound.push({ name: plan.name, address: addr.address, port: (server.address() as AddressInfo).port });
      }
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { bound, close };
}

function listen(name: string, addr: HostPort): Promise<Server> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.end(markerLine(name, socket.localPort ?? addr.port));
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`cannot bind '${addr.address}:${addr.port}' for listener ${name}: ${describe(err)}`)));
    server.listen({ port: addr.port, host: addr.address, ipv6Only: addr.address.includes(':') && !addr.ipv4Compat }, () => resolve(server));
  });
}

function describe(err: NodeJS.ErrnoException): string {
  if (err.code === 'EADDRINUSE') return 'Address already in use';
  if (err.code === 'EADDRNOTAVAIL') return 'Cannot assign requested address';
  if (err.code === 'EACCES') return 'Permission denied';
  return err.code ?? err.message;
}
