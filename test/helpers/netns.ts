import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
let count = 0;

export interface Netns {
  name: string;
  /** Starts `command ARGS` inside the namespace (`ip netns exec` execs it, so the pid and signals are its own). */
  spawn(command: string, args: string[]): ChildProcess;
  remove(): Promise<void>;
}

/**
 * A fresh network namespace with loopback up, for processes that bind fixed ports (Envoy's 15000-15090,
 * the agent's 15020/15021). Needs root and iproute2: without them this throws, failing the test loudly.
 */
export async function createNetns(prefix: string): Promise<Netns> {
  const name = `${prefix}-${process.pid}-${++count}`;
  try {
    await run('ip', ['netns', 'add', name]);
    await run('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
  } catch (err) {
    await run('ip', ['netns', 'delete', name]).catch(() => undefined);
    throw new Error(`cannot create network namespace ${name} (needs root and iproute2): ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`);
  }
  return {
    name,
    spawn: (command, args) => spawn('ip', ['netns', 'exec', name, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }),
    remove: async () => {
      await run('ip', ['netns', 'delete', name]);
    },
  };
}
