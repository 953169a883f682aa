import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MAIN } from '../helpers/cli.js';
import { tempDir } from '../helpers/openssl.js';
import type { FakeKube } from '../helpers/fake-kube.js';
import type { NetHost } from './network.js';

export interface ControlPlaneProcess {
  host: NetHost;
  child: ChildProcess;
  logs(): string;
  stop(): Promise<void>;
}

/**
 * `meshid serve` in cluster mode, from the bundle as the image ships it, in a network namespace of its own (its
 * pod), on its default ports, against the fake API server through a kubeconfig, as the Deployment runs it.
 */
export async function startControlPlaneProcess(fake: FakeKube, host: NetHost, args: string[] = [], env: Record<string, string> = {}): Promise<ControlPlaneProcess> {
  const kubeconfig = join(await tempDir('mpcp-'), 'config');
  await writeFile(kubeconfig, fake.kubeConfig().exportConfig());
  const child = spawn('ip', ['netns', 'exec', host.ns, process.execPath, MAIN, 'serve', '--kubeconfig', kubeconfig, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, POD_NAMESPACE: 'meshid-system', POD_NAME: 'meshid-0', MESHID_LOG_LEVEL: 'info', ...env },
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const onData = () => out.includes('meshid ready:') && resolve();
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`meshid serve exited ${code}:\n${out}`)));
  });
  return {
    host, child,
    logs: () => out,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(kill);
    },
  };
}
