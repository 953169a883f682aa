import { chmod, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Meshid } from '../e2e/children.js';
import type { Netns } from '../helpers/netns.js';
import type { StandinState } from './programs/standin/state-file.js';

const PROGRAMS = fileURLToPath(new URL('./programs/', import.meta.url));
export const STANDIN = join(PROGRAMS, 'envoy-standin.js');
export const TEST_APP = join(PROGRAMS, 'test-app.js');
const FORWARD = join(PROGRAMS, 'unix-forward.js');

/**
 * A `#!/bin/sh` Envoy binary that execs the stand-in; with `gate`, it first waits for that file to exist,
 * so a test can hold the proxy back while the agent already runs.
 */
export async function envoyWrapper(dir: string, gate?: string): Promise<string> {
  const path = join(dir, 'envoy');
  const wait = gate ? `while [ ! -e '${gate}' ]; do sleep 0.05; done\n` : '';
  await writeFile(path, `#!/bin/sh\n${wait}exec '${process.execPath}' '${STANDIN}' "$@"\n`);
  await chmod(path, 0o755);
  return path;
}

/** Loopback ports of `ns` as Unix sockets under `dir` (`<dir>/<port>.sock`), for the test process outside it. */
export async function forwardPorts(ns: Netns, dir: string, ports: number[]): Promise<Meshid> {
  const fwd = new Meshid('unix-forward', ns.spawn(process.execPath, [FORWARD, dir, ...ports.map(String)]));
  await fwd.until(() => fwd.stdout.includes('ready\n'), 'the forwarder to listen');
  return fwd;
}

export function httpGet(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** Everything a server writes on a fresh connection until it ends it. */
export function readAll(socketPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const s = connect(socketPath);
    s.setEncoding('utf8').on('data', (c: string) => (text += c));
    s.on('end', () => resolve(text));
    s.on('error', reject);
    s.setTimeout(3000, () => s.destroy(new Error('no end within 3 s')));
  });
}


/** Polls envoy-standin.json until `cond` holds for it; the raw text comes too, to search it for secrets. */
export async function stateWhen(file: string, cond: (s: StandinState) => boolean, what: string, timeoutMs = 15_000): Promise<{ state: StandinState; text: string }> {
  let last: { state: StandinState; text: string } | null = null;
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (text) {
      last = { state: JSON.parse(text) as StandinState, text };
      if (cond(last.state)) return last;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for the stand-in state: ${what}; last: ${last?.text ?? '(no file)'}`);
}
