import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';

/** Where the harness' containers find Python (the host's root filesystem): Node has no getsockopt. */
const PYTHON = '/usr/bin/python3';

/** SO_ORIGINAL_DST (IPv4) and IP6T_SO_ORIGINAL_DST (IPv6) on fd 0, as Envoy's original_dst listener filter reads it. */
const SCRIPT = `
import socket, struct
s = socket.socket(fileno=0)
try:
    if s.family == socket.AF_INET6:
        d = s.getsockopt(41, 80, 28)
        print(socket.inet_ntop(socket.AF_INET6, d[8:24]), struct.unpack('!H', d[2:4])[0])
    else:
        d = s.getsockopt(socket.SOL_IP, 80, 16)
        print(socket.inet_ntoa(d[4:8]), struct.unpack('!H', d[2:4])[0])
except OSError as e:
    print('none', e.errno)
finally:
    s.detach()
`;

export interface Destination { address: string; port: number }

/**
 * The destination a connection had before iptables redirected it, or null when it was not redirected (Envoy then
 * keeps the local address). Python reads it from a duplicate of the socket's descriptor.
 */
export function originalDestination(socket: Socket): Promise<Destination | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-S', '-E', '-c', SCRIPT], { stdio: [socket, 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.once('error', (e) => reject(new Error(`cannot run ${PYTHON} to read SO_ORIGINAL_DST (the stand-in needs it): ${e.message}`)));
    child.once('close', (code) => {
      const [address, port] = out.trim().split(' ');
      if (code !== 0 || !address) return reject(new Error(`reading SO_ORIGINAL_DST failed: ${err.trim() || `exit ${code}`}`));
      resolve(address === 'none' ? null : { address, port: Number(port) });
    });
  });
}
