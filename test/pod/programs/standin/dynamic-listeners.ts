import { createServer, type AddressInfo, type Server } from 'node:net';
import type { HostPort } from './bootstrap-plan.js';
import { handleConnection, type ConnectionDeps } from './connection.js';
import type { BoundListener } from './listeners.js';

type Json = Record<string, any>;

/**
 * The listeners LDS gave, bound as Envoy binds them (an added listener is bound, a removed one closed, an updated
 * one keeps its sockets and serves new connections with its new filter chains).
 */
export class DynamicListeners {
  private readonly servers = new Map<string, Server[]>();
  readonly bound: BoundListener[] = [];

  constructor(private readonly current: () => Map<string, Json>, private readonly deps: Omit<ConnectionDeps, 'listener'>, private readonly log: (line: string) => void) {}

  async update(): Promise<void> {
    const wanted = this.current();
    for (const [name, servers] of this.servers) {
      if (wanted.has(name)) continue;
      this.servers.delete(name);
      for (const s of servers) s.close();
      this.bound.splice(0, this.bound.length, ...this.bound.filter((b) => b.name !== name));
    }
    for (const [name, listener] of wanted) {
      if (this.servers.has(name)) continue;
      const servers: Server[] = [];
      this.servers.set(name, servers);
      for (const addr of addresses(listener)) {
        try {
          const server = await this.listen(name, addr);
          servers.push(server);
          this.bound.push({ name, address: addr.address, port: (server.address() as AddressInfo).port });
        } catch (err) {
          this.log(`listener ${name}: cannot bind '${addr.address}:${addr.port}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        }
      }
    }
  }

  close(): Promise<void> {
    const all = [...this.servers.values()].flat();
    this.servers.clear();
    return Promise.all(all.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => undefined);
  }

  private listen(name: string, addr: HostPort): Promise<Server> {
    const server = createServer({ pauseOnConnect: true }, (socket) => {
      handleConnection(socket, { ...this.deps, listener: () => this.current().get(name) }).catch((err: Error) => {
        this.log(`listener ${name}: ${err.message}`);
        socket.destroy();
      });
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: addr.port, host: addr.address, ipv6Only: addr.address.includes(':') }, () => resolve(server));
    });
  }
}

function addresses(listener: Json): HostPort[] {
  const all = [listener.address, ...(listener.additional_addresses ?? []).map((a: Json) => a.address)];
  return all.map((a: Json) => a?.socket_address).filter(Boolean).map((sa: Json) => ({ address: sa.address, port: sa.port_value ?? 0 }));
}
