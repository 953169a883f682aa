import type { AddressInfo, Socket } from 'node:net';
import { connect, createServer, type TLSSocket } from 'node:tls';

export interface Peer {
  spiffeId: string;
  chainPem: string;
  keyPem: string;
  /** The trusted roots, as the peer's ROOTCA says. */
  rootsPem: string;
}

/**
 * One mutual TLS handshake between two workloads, each side verifying the other against its own roots and
 * checking the other's SPIFFE ID, as Envoy does with `match_subject_alt_names`. Resolves with the IDs each
 * side saw; rejects with what failed. The server answers only after accepting the client's certificate
 * (in TLS 1.3 the client finishes first), so a resolved promise means both sides accepted.
 */
export async function mutualHandshake(server: Peer, client: Peer, timeoutMs = 10_000): Promise<{ serverSaw: string; clientSaw: string }> {
  const uriOf = (s: TLSSocket) => (s.getPeerX509Certificate()?.subjectAltName ?? '').replace(/^URI:/, '');
  let serverSaw = '';
  let serverError: Error | null = null;
  const srv = createServer({ key: server.keyPem, cert: server.chainPem, ca: server.rootsPem, requestCert: true, rejectUnauthorized: true }, (s) => {
    serverSaw = uriOf(s);
    if (serverSaw === client.spiffeId) s.end('ok');
    else {
      serverError = new Error(`server saw ${serverSaw || 'no SPIFFE ID'}, expected ${client.spiffeId}`);
      s.destroy();
    }
  });
  srv.on('tlsClientError', (err) => (serverError = err));
  const sockets = new Set<Socket>();
  srv.on('connection', (s) => sockets.add(s));
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  try {
    const clientSaw = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`no handshake within ${timeoutMs} ms`)), timeoutMs);
      let saw = '';
      let reply = '';
      const sock = connect({
        host: '127.0.0.1', port: (srv.address() as AddressInfo).port, key: client.keyPem, cert: client.chainPem, ca: client.rootsPem,
        checkServerIdentity: (_host, cert) =>
          cert.subjectaltname === `URI:${server.spiffeId}` ? undefined : new Error(`client saw ${cert.subjectaltname ?? 'no SAN'}, expected URI:${server.spiffeId}`),
      });
      function fail(err: Error): void {
        clearTimeout(timer);
        sock.destroy();
        reject(serverError ? new Error(`server: ${serverError.message} (client: ${err.message})`) : err);
      }
      sock.on('secureConnect', () => (saw = uriOf(sock)));
      sock.setEncoding('utf8').on('data', (d: string) => (reply += d));
      sock.on('error', fail);
      sock.on('close', () => {
        if (reply === 'ok' && saw) {
          clearTimeout(timer);
          resolve(saw);
        } else fail(new Error(`connection closed without the server's ok (reply "${reply}")`));
      });
    });
    return { serverSaw, clientSaw };
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
}
