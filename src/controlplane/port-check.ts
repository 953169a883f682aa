import { createServer } from 'node:net';
import { MeshidError } from '../common/errors.js';

export interface PortClaim {
  /** The serve flag that sets the port, e.g. ca-port. */
  flag: string;
  port: number;
}

/** A bind failure as one line naming the flag that chose the port; other errors unchanged. */
export function bindError(err: unknown, claim: PortClaim, host: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return new MeshidError('port_in_use', `--${claim.flag} ${claim.port} is in use on ${host}; stop what listens there or choose another port with --${claim.flag} (0 = any free port)`);
  }
  if (code === 'EACCES') {
    return new MeshidError('port_denied', `--${claim.flag} ${claim.port} needs privileges this process lacks; choose a port above 1023 with --${claim.flag}`);
  }
  return err as Error;
}

/**
 * Binds and releases every fixed port before anything is written to disk, so a port conflict fails with
 * nothing created. Something may still take a port in the moment between this and the real bind; that
 * bind reports it the same way.
 */
export async function checkPortsFree(claims: readonly PortClaim[], host: string): Promise<void> {
  for (const claim of claims) {
    if (claim.port === 0) continue;
    await new Promise<void>((resolve, reject) => {
      const probe = createServer();
      probe.once('error', (err) => reject(bindError(err, claim, host)));
      probe.listen({ host, port: claim.port, exclusive: true }, () => probe.close(() => resolve()));
    });
  }
}
