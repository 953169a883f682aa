import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

/**
 * The socket as a stream that first yields `head` (bytes the listener filters already read), so TLS can be
 * terminated on a connection whose ClientHello was inspected: Node cannot peek, and a TLSSocket built on the
 * raw socket would miss what was read.
 */
export function prefixed(socket: Socket, head: Buffer): Duplex {
  const stream = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk, _enc, cb) {
      socket.write(chunk, cb);
    },
    final(cb) {
      socket.end();
      cb();
    },
    destroy(err, cb) {
      socket.destroy();
      cb(err);
    },
  });
  if (head.length > 0) stream.push(head);
  socket.on('data', (d: Buffer) => {
    if (!stream.push(d)) socket.pause();
  });
  socket.on('end', () => stream.push(null));
  socket.on('error', (err) => stream.destroy(err));
  socket.on('close', () => stream.destroy());
  return stream;
}
