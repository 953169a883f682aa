import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Server } from 'node:http';
import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';
import { loadEnvoyProtos } from '../../../src/agent/envoy-protos.js';
import { bootstrapProblems, ENVOY_CONFIG_PROTOS } from '../../helpers/envoy-config-check.js';
import { startAdmin } from './standin/admin.js';
import { planBootstrap } from './standin/bootstrap-plan.js';
import { bindListeners } from './standin/listeners.js';
import { SDS_SERVICE, SdsSubscriber } from './standin/sds-subscriber.js';
import type { DecodedSecret } from './standin/secret-check.js';
import { STATE_FILE, StateWriter } from './standin/state-file.js';

/**
 * Stands in for Envoy where there is no Envoy binary: `envoy-standin -c BOOTSTRAP.json [other Envoy flags]`.
 * It refuses a bootstrap Envoy's protos refuse, fetches the secrets the transport sockets name over SDS,
 * answers admin /ready, binds the static listeners (each connection gets one marker line) and keeps
 * envoy-standin.json beside the bootstrap up to date.
 */
const SECRET_MESSAGE = 'envoy.extensions.transport_sockets.tls.v3.Secret';

const say = (line: string) => process.stderr.write(`envoy-standin: ${line}\n`);

function configPath(argv: string[]): string {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-c' || arg === '--config-path') {
      const value = argv[i + 1];
      if (!value || value.startsWith('-')) throw new Error(`${arg} needs a file name`);
      return value;
    }
    if (arg.startsWith('--config-path=')) return arg.slice('--config-path='.length);
  }
  throw new Error('-c FILE (the bootstrap) is required');
}

function readBootstrap(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the bootstrap '${path}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`the bootstrap '${path}' is not JSON: ${(err as Error).message}`);
  }
}

async function main(): Promise<number> {
  // Registered first, so a stop during start-up still ends in an orderly exit 0.
  const stopped = new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  const path = configPath(process.argv.slice(2));
  const bootstrap = readBootstrap(path);
  const defs = loadEnvoyProtos([...ENVOY_CONFIG_PROTOS, 'envoy/service/secret/v3/sds.proto']);
  const { plan, problems } = planBootstrap(bootstrap);
  const refused = [...bootstrapProblems(defs, bootstrap), ...problems];
  if (refused.length > 0) {
    for (const p of refused) say(`error initializing configuration '${path}': ${p}`);
    return 1;
  }

  const subscribers: SdsSubscriber[] = [];
  const state = new StateWriter(join(dirname(path), STATE_FILE), () => snapshot(), say);
  const live = () => subscribers.every((s) => s.complete());
  let listeners: Awaited<ReturnType<typeof bindListeners>> | null = null;
  const snapshot = () => ({
    pid: process.pid,
    ready: live(),
    listeners: listeners?.bound ?? [],
    secrets: Object.fromEntries(subscribers.flatMap((s) => [...s.secrets])),
    acks: sum((s) => s.acks),
    nacks: sum((s) => s.nacks),
    streams: sum((s) => s.streams),
  });
  const sum = (f: (s: SdsSubscriber) => number) => subscribers.reduce((n, s) => n + f(s), 0);

  let admin: Server | null = null;
  try {
    listeners = await bindListeners(plan.listeners);
    if (plan.admin) admin = await startAdmin(plan.admin, live);
  } catch (err) {
    await listeners?.close();
    say((err as Error).message);
    return 1;
  }
  const secretType = defs[SECRET_MESSAGE] as MessageTypeDefinition<DecodedSecret, DecodedSecret>;
  for (const sub of plan.subscriptions) {
    subscribers.push(new SdsSubscriber({
      sub, node: plan.node, service: defs[SDS_SERVICE] as grpc.ServiceDefinition,
      decodeSecret: (bytes) => secretType.deserialize(bytes),
      readFile: (file) => readFileSync(file, 'utf8'),
      random: Math.random, onChange: () => state.changed(), log: say,
    }));
  }
  for (const s of subscribers) s.start();
  state.changed();

  await stopped;
  for (const s of subscribers) s.close();
  admin?.closeAllConnections();
  await Promise.all([listeners.close(), new Promise<void>((r) => (admin ? admin.close(() => r()) : r()))]);
  await state.flushed();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    say(err.message);
    process.exit(1);
  },
);
