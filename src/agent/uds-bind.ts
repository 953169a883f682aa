import * as grpc from '@grpc/grpc-js';
import { chmod, mkdir, mkdtemp, rename, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Binds `server` in a private directory, sets `mode` and renames the socket into place: the socket has
 * its final permissions from its first moment, and a stale socket left by a previous run is replaced in
 * one step.
 */
export async function bindUnixSocket(server: grpc.Server, socketPath: string, mode: number): Promise<void> {
  await mkdir(dirname(socketPath), { recursive: true });
  const privateDir = await mkdtemp(join(dirname(socketPath), `.${basename(socketPath)}-`));
  const tmpPath = join(privateDir, 's.sock');
  try {
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${tmpPath}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    await chmod(tmpPath, mode);
    await rename(tmpPath, socketPath);
  } finally {
    await rm(tmpPath, { force: true });
    await rmdir(privateDir).catch(() => undefined);
  }
}

/** Stops a gRPC server, forcing it after `graceMs` if streams are still open. */
export async function shutdownServer(server: grpc.Server, graceMs = 1000): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Ends the open streams, stops the server and removes its socket file: the close of every server on a pod socket. */
export async function closeUnixServer(server: grpc.Server, socketPath: string, streams: Iterable<{ end(): void }>): Promise<void> {
  for (const s of streams) s.end();
  await shutdownServer(server);
  await rm(socketPath, { force: true });
}
