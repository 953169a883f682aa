import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Server } from 'node:http';
import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';
import { loadEnvoyProtos } from '../../../src/agent/envoy-protos.js';
import { bootstrapProblems, CLUSTER_TYPE, ENVOY_CONFIG_PROTOS, LISTENER_TYPE } from '../../helpers/envoy-config-check.js';
import { startAdmin } from './standin/admin.js';
import { planBootstrap, type ConfigSourcePlan, type SdsSubscription } from './standin/bootstrap-plan.js';
import { DynamicConfig } from './standin/dynamic-config.js';
import { DynamicListeners } from './standin/dynamic-listeners.js';
import { bindListeners } from './standin/listeners.js';
import { SdsSecrets, type TlsMaterial } from './standin/sds-subscriber.js';
import type { DecodedSecret } from './standin/secret-check.js';
import { STATE_FILE, StateWriter } from './standin/state-file.js';
import { CDS_API, LDS_API, SDS_API, Subscriber, type SubscriberDeps, type XdsApi } from './standin/subscriber.js';

/**
 * Stands in for Envoy where there is no Envoy binary: `envoy-standin -c BOOTSTRAP.json [other Envoy flags]`.
 * It refuses a bootstrap Envoy's protos refuse, binds the static listeners (each connection gets one marker
 * line), follows LDS and CDS (resources checked against Envoy's protos, NACKed otherwise) and binds their
 * listeners with the forwarding they describe, fetches every secret the configuration names over SDS, answers
 * admin /ready once all of it arrived, and keeps envoy-standin.json beside the bootstrap up to date.
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

  const secretType = defs[SECRET_MESSAGE] as MessageTypeDefinition<DecodedSecret, DecodedSecret>;
  const sds = new Map<SdsSubscription, { secrets: SdsSecrets; subscriber: Subscriber }>();
  const config: Record<string, Subscriber> = {};
  const connections: Record<string, number> = {};
  const state = new StateWriter(join(dirname(path), STATE_FILE), () => snapshot(), say);
  const subscriber = (api: XdsApi, source: ConfigSourcePlan, names: () => string[], accept: SubscriberDeps['accept']) =>
    new Subscriber({
      api, ...source, node: plan.node, service: defs[api.service] as grpc.ServiceDefinition, names, accept,
      random: Math.random, onChange: () => state.changed(), log: say,
    });
  const followSecrets = (subs: SdsSubscription[]) => {
    for (const sub of subs) {
      const known = sds.get(sub);
      if (known) known.subscriber.resubscribe();
      else {
        const secrets = new SdsSecrets(sub, (bytes) => secretType.deserialize(bytes), (file) => readFileSync(file, 'utf8'));
        const s = subscriber(SDS_API, sub, () => secrets.names(), (res, version) => secrets.accept(res, version));
        sds.set(sub, { secrets, subscriber: s });
        s.start();
      }
    }
  };
  const dynamic = new DynamicConfig(defs, plan, followSecrets);
  const secret = (name: string): TlsMaterial => {
    for (const { secrets } of sds.values()) if (secrets.secrets.has(name)) return secrets.material(name);
    return {};
  };
  const ldsListeners = new DynamicListeners(() => dynamic.listeners, {
    cluster: (name) => dynamic.clusters.get(name), secret,
    count: (key) => {
      connections[key] = (connections[key] ?? 0) + 1;
      state.changed();
    },
  }, say);
  const live = () => [...sds.values()].every((s) => s.secrets.complete()) && Object.values(config).every((s) => s.acks > 0);
  let listeners: Awaited<ReturnType<typeof bindListeners>> | null = null;
  const sdsSum = (f: (s: Subscriber) => number) => [...sds.values()].reduce((n, s) => n + f(s.subscriber), 0);
  const snapshot = () => ({
    pid: process.pid,
    ready: live(),
    listeners: [...(listeners?.bound ?? []), ...ldsListeners.bound],
    secrets: Object.fromEntries([...sds.values()].flatMap((s) => [...s.secrets.secrets])),
    acks: sdsSum((s) => s.acks),
    nacks: sdsSum((s) => s.nacks),
    streams: sdsSum((s) => s.streams),
    xds: Object.fromEntries(Object.entries(config).map(([kind, s]) => [kind, { version: s.acceptedVersion, acks: s.acks, nacks: s.nacks, streams: s.streams }])),
    connections,
  });

  let admin: Server | null = null;
  try {
    listeners = await bindListeners(plan.listeners);
    if (plan.admin) admin = await startAdmin(plan.admin, live);
  } catch (err) {
    await listeners?.close();
    say((err as Error).message);
    return 1;
  }
  followSecrets(plan.subscriptions);
  // Envoy initialises clusters before listeners; a listener's chains name clusters CDS already gave.
  for (const [api, source, message] of [[CDS_API, plan.cds, CLUSTER_TYPE], [LDS_API, plan.lds, LISTENER_TYPE]] as const) {
    if (!source) continue;
    const s = subscriber(api, source, () => [], (res) => {
      const decided = dynamic.accept(api, message, res);
      if ('problem' in decided) return decided;
      return { apply: () => { decided.apply(); if (api === LDS_API) void ldsListeners.update().then(() => state.changed()); } };
    });
    config[api.kind] = s;
    s.start();
  }
  state.changed();

  await stopped;
  for (const s of [...Object.values(config), ...[...sds.values()].map((x) => x.subscriber)]) s.close();
  admin?.closeAllConnections();
  await Promise.all([listeners.close(), ldsListeners.close(), new Promise<void>((r) => (admin ? admin.close(() => r()) : r()))]);
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
