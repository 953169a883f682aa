import { createServer, type AddressInfo } from 'node:net';

/** A port the OS just handed out and took back: free now, unlike a random pick that may be an ephemeral port in use. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, host, r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}
