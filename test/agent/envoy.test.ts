import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { envoyBootstrap } from '../../src/agent/envoy-bootstrap.js';
import { loadEnvoyProtos } from '../../src/agent/envoy-protos.js';
import { EnvoyProcess } from '../../src/agent/envoy-process.js';
import { realTimers } from '../../src/agent/timers.js';
import { bootstrapProblems, ENVOY_CONFIG_PROTOS } from '../helpers/envoy-config-check.js';
import { captureLogger, tempDir } from './helpers.js';

const bootstrapFor = (podIps: string[]) =>
  envoyBootstrap({ nodeId: 'sidecar~spiffe://cluster.local/ns/shop/sa/web', cluster: 'web.shop', sdsSocketPath: '/var/run/meshid/sds.sock', podIps });

test('the Envoy bootstrap is accepted by Envoy\'s own proto definitions, and the checker catches what Envoy would refuse', () => {
  const defs = loadEnvoyProtos(ENVOY_CONFIG_PROTOS);
  const boot = bootstrapFor(['10.1.2.3']) as any;
  assert.deepEqual(bootstrapProblems(defs, boot), []);
  const text = JSON.stringify(boot);
  assert.ok(!text.includes('additional_addresses') && !text.includes('"address":"::"'), 'an IPv4-only pod: no IPv6 listener');
  assert.match(text, /"pipe":\{"path":"\/var\/run\/meshid\/sds.sock"\}/);
  assert.deepEqual(boot.static_resources.listeners.map((l: any) => [l.name, l.address.socket_address.port_value]), [['prometheus', 15090]], 'the redirect listeners come over LDS');
  const source = { resource_api_version: 'V3', initial_fetch_timeout: '0s', api_config_source: { api_type: 'GRPC', transport_api_version: 'V3', set_node_on_first_message_only: true, grpc_services: [{ envoy_grpc: { cluster_name: 'xds-grpc' } }] } };
  assert.deepEqual(boot.dynamic_resources, { lds_config: source, cds_config: source }, 'listeners and clusters from the agent\'s socket, waited for');
  assert.deepEqual(boot.static_resources.clusters.map((c: any) => c.name), ['xds-grpc', 'admin-stats']);

  const broken = JSON.parse(text);
  broken.static_resources.clusters[0].conect_timeout = '1s';
  broken.dynamic_resources.lds_config.api_config_source.api_type = 'GRCP';
  broken.dynamic_resources.cds_config.resource_api_version = 'V4';
  const found = bootstrapProblems(defs, broken);
  assert.equal(found.length, 3, found.join('\n'));
});

test('a dual-stack pod: the stats listener also listens on [::], in a shape Envoy\'s protos accept', () => {
  const defs = loadEnvoyProtos(ENVOY_CONFIG_PROTOS);
  for (const podIps of [['10.1.2.3', 'fd00:10::3'], ['fd00:10::3']]) {
    const boot = bootstrapFor(podIps) as any;
    assert.deepEqual(bootstrapProblems(defs, boot), [], podIps.join(','));
    const [stats] = boot.static_resources.listeners;
    assert.deepEqual(stats.address, { socket_address: { address: '0.0.0.0', port_value: 15090 } });
    assert.deepEqual(stats.additional_addresses, [{ address: { socket_address: { address: '::', port_value: 15090 } } }]);
  }
  const misspelt = bootstrapFor(['fd00::3']) as any;
  misspelt.static_resources.listeners[0].additional_addresses[0].adress = misspelt.static_resources.listeners[0].additional_addresses[0].address;
  assert.match(bootstrapProblems(defs, misspelt).join('\n'), /additional_addresses\[0\]\.adress: envoy\.config\.listener\.v3\.AdditionalAddress has no such field/);
});

test('the Envoy supervisor starts the binary with the bootstrap, restarts it after a crash, and stops it with SIGTERM', async () => {
  const dir = await tempDir();
  const script = join(dir, 'fake-envoy.mjs');
  const marks = join(dir, 'starts');
  await writeFile(script, `#!/usr/bin/env node
import { appendFileSync } from 'node:fs';
appendFileSync(${JSON.stringify(marks)}, process.argv.slice(2).join(' ') + '\\n');
const starts = (await import('node:fs')).readFileSync(${JSON.stringify(marks)}, 'utf8').trim().split('\\n').length;
if (starts === 1) process.exit(3);
process.on('SIGTERM', () => { appendFileSync(${JSON.stringify(marks)}, 'SIGTERM\\n'); process.exit(0); });
appendFileSync(${JSON.stringify(marks)}, 'listening for SIGTERM\\n');
setInterval(() => {}, 1000);
`);
  await chmod(script, 0o755);
  const log = captureLogger();
  const quick = { after: (ms: number, fn: () => void) => realTimers.after(Math.min(ms, 50), fn) };
  const envoy = new EnvoyProcess({ binary: script, configPath: '/tmp/boot.json', adminPort: 1, logger: log.logger, timers: quick, random: () => 0 });
  envoy.start();
  // The second start installs its SIGTERM handler before it says so; only then can the stop below be seen.
  while (!(await readFile(marks, 'utf8').catch(() => '')).includes('listening for SIGTERM')) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await envoy.ready(), false, 'running but admin /ready not answering: not ready');
  await envoy.stop();
  const lines = (await readFile(marks, 'utf8')).trim().split('\n');
  assert.deepEqual(lines, ['-c /tmp/boot.json --drain-time-s 5', '-c /tmp/boot.json --drain-time-s 5', 'listening for SIGTERM', 'SIGTERM']);
  assert.ok(log.lines().some((l) => l.msg === 'proxy exited unexpectedly; restarting' && l.code === 3));
});
