import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { MessageTypeDefinition, EnumTypeDefinition, PackageDefinition } from '@grpc/proto-loader';
import { envoyBootstrap } from '../../src/agent/envoy-bootstrap.js';
import { loadEnvoyProtos } from '../../src/agent/envoy-protos.js';
import { EnvoyProcess } from '../../src/agent/envoy-process.js';
import { realTimers } from '../../src/agent/timers.js';
import { captureLogger, tempDir } from './helpers.js';

interface FieldDescriptor { name: string; label: string; type: string; typeName: string }

/**
 * Walks a JSON config against Envoy's reflected proto types: every key must be a field Envoy defines, enums
 * must name a defined value, messages must be objects, repeated fields arrays, and each `@type` must name a
 * loaded message (its content is walked too). Returns every problem found, with its path.
 */
function check(defs: PackageDefinition, typeName: string, value: unknown, path: string, problems: string[]): void {
  const descriptor = findType(defs, typeName) as MessageDescriptor | null;
  if (!descriptor || !('field' in descriptor)) return void problems.push(`${path}: unknown message type ${typeName}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return void problems.push(`${path}: ${typeName} must be an object`);
  const entries = Object.entries(value as Record<string, unknown>);
  if (typeName === 'google.protobuf.Any') {
    const at = (value as Record<string, unknown>)['@type'];
    if (typeof at !== 'string' || !at.startsWith('type.googleapis.com/')) return void problems.push(`${path}: Any without @type`);
    const { ['@type']: _, ...rest } = value as Record<string, unknown>;
    return check(defs, at.slice('type.googleapis.com/'.length), rest, `${path}<${at}>`, problems);
  }
  for (const [key, v] of entries) {
    const field = descriptor.field.find((f) => f.name === key);
    if (!field) {
      problems.push(`${path}.${key}: ${typeName} has no such field`);
      continue;
    }
    const mapEntry = field.type === 'TYPE_MESSAGE' ? (findType(defs, qualify(defs, field.typeName, typeName)) as MessageDescriptor | null) : null;
    if (mapEntry?.options?.mapEntry) {
      // A map (typed_extension_protocol_options): free keys, values of the entry's value type.
      const valueField = mapEntry.field.find((f) => f.name === 'value')!;
      const entryName = qualify(defs, field.typeName, typeName);
      for (const [k, mv] of Object.entries(v as Record<string, unknown>)) check(defs, qualify(defs, valueField.typeName, entryName), mv, `${path}.${key}[${k}]`, problems);
      continue;
    }
    const items = field.label === 'LABEL_REPEATED' ? v : [v];
    if (!Array.isArray(items)) {
      problems.push(`${path}.${key}: repeated field must be an array`);
      continue;
    }
    items.forEach((item, i) => {
      const p = field.label === 'LABEL_REPEATED' ? `${path}.${key}[${i}]` : `${path}.${key}`;
      if (field.type === 'TYPE_MESSAGE') {
        const t = qualify(defs, field.typeName, typeName);
        if (t === 'google.protobuf.Duration') {
          if (typeof item !== 'string' || !/^\d+(\.\d+)?s$/.test(item)) problems.push(`${p}: duration must be like "1s"`);
        } else if (t === 'google.protobuf.BoolValue' || t === 'google.protobuf.UInt32Value') {
          // JSON form of wrappers is the bare value.
        } else check(defs, t, item, p, problems);
      } else if (field.type === 'TYPE_ENUM') {
        const e = findType(defs, qualify(defs, field.typeName, typeName)) as { value: Array<{ name: string }> } | null;
        const values = (e?.value ?? []).map((x) => x.name);
        if (!values.includes(String(item))) problems.push(`${p}: "${String(item)}" is not one of ${values.join(', ')}`);
      } else if (field.type === 'TYPE_STRING' && typeof item !== 'string') problems.push(`${p}: must be a string`);
      else if (field.type === 'TYPE_BOOL' && typeof item !== 'boolean') problems.push(`${p}: must be a boolean`);
      else if (/INT|FIXED/.test(field.type) && typeof item !== 'number') problems.push(`${p}: must be a number`);
    });
  }
}

interface MessageDescriptor {
  name: string;
  field: FieldDescriptor[];
  nestedType: MessageDescriptor[];
  enumType: Array<{ name: string; value: Array<{ name: string }> }>;
  options?: { mapEntry?: boolean } | null;
}

/** A message or enum by full name; nested types live inside their parent's descriptor, not at the top. */
function findType(defs: PackageDefinition, fullName: string): MessageDescriptor | { value: Array<{ name: string }> } | null {
  const parts = fullName.split('.');
  for (let i = parts.length; i > 0; i--) {
    const top = defs[parts.slice(0, i).join('.')] as MessageTypeDefinition<unknown, unknown> | EnumTypeDefinition | undefined;
    if (!top || !('format' in top) || typeof top.format !== 'string') continue;
    let node = top.type as unknown as MessageDescriptor | { value: Array<{ name: string }> };
    for (const part of parts.slice(i)) {
      if (!('nestedType' in node)) return null;
      const next: MessageDescriptor | { name: string; value: Array<{ name: string }> } | undefined =
        node.nestedType.find((n) => n.name === part) ?? node.enumType.find((n) => n.name === part);
      if (!next) return null;
      node = next;
    }
    return node;
  }
  return null;
}

/** Resolves a (possibly relative) type reference the way protoc does: innermost scope outwards. */
function qualify(defs: PackageDefinition, name: string, scope: string): string {
  if (name.startsWith('.')) return name.slice(1);
  const parts = scope.split('.');
  for (let i = parts.length; i >= 0; i--) {
    const candidate = [...parts.slice(0, i), name].join('.');
    if (findType(defs, candidate)) return candidate;
  }
  return name;
}

const EXTENSIONS = [
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/listener/original_dst/v3/original_dst.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
];

const bootstrapFor = (podIps: string[]) =>
  envoyBootstrap({ nodeId: 'sidecar~spiffe://cluster.local/ns/shop/sa/web', cluster: 'web.shop', sdsSocketPath: '/var/run/meshid/sds.sock', trustDomain: 'cluster.local', podIps });

test('the Envoy bootstrap is accepted by Envoy\'s own proto definitions, and the checker catches what Envoy would refuse', () => {
  const defs = loadEnvoyProtos(EXTENSIONS);
  const boot = bootstrapFor(['10.1.2.3']);
  const problems: string[] = [];
  check(defs, 'envoy.config.bootstrap.v3.Bootstrap', boot, 'bootstrap', problems);
  assert.deepEqual(problems, []);
  const text = JSON.stringify(boot);
  assert.ok(!text.includes('additional_addresses') && !text.includes('"address":"::"'), 'an IPv4-only pod: no IPv6 listener');
  assert.match(text, /"pipe":\{"path":"\/var\/run\/meshid\/sds.sock"\}/);
  for (const port of [15001, 15006, 15090]) assert.ok(text.includes(`"port_value":${port}`), `listener on ${port}`);
  assert.match(text, /"name":"default"/);
  assert.match(text, /"name":"ROOTCA"/);
  assert.match(text, /"san_type":"URI","matcher":\{"prefix":"spiffe:\/\/cluster.local\/"\}/);

  const broken = JSON.parse(text);
  broken.static_resources.clusters[0].conect_timeout = '1s';
  broken.static_resources.listeners[0].filter_chains[0].transport_socket.typed_config.require_client_cert = true;
  broken.static_resources.clusters[2].type = 'ORIGINAL_DESTINATION';
  const found: string[] = [];
  check(defs, 'envoy.config.bootstrap.v3.Bootstrap', broken, 'bootstrap', found);
  assert.equal(found.length, 3, found.join('\n'));
});

test('a dual-stack pod: the inbound and outbound listeners also listen on [::], in a shape Envoy\'s protos accept', () => {
  const defs = loadEnvoyProtos(EXTENSIONS);
  for (const podIps of [['10.1.2.3', 'fd00:10::3'], ['fd00:10::3']]) {
    const boot = bootstrapFor(podIps) as any;
    const problems: string[] = [];
    check(defs, 'envoy.config.bootstrap.v3.Bootstrap', boot, 'bootstrap', problems);
    assert.deepEqual(problems, [], podIps.join(','));
    const byName = Object.fromEntries(boot.static_resources.listeners.map((l: any) => [l.name, l]));
    for (const [name, port] of [['virtualInbound', 15006], ['virtualOutbound', 15001]] as const) {
      assert.deepEqual(byName[name].address, { socket_address: { address: '0.0.0.0', port_value: port } }, name);
      assert.deepEqual(byName[name].additional_addresses, [{ address: { socket_address: { address: '::', port_value: port } } }], name);
    }
    assert.equal(byName.prometheus.additional_addresses, undefined, 'stats stay where they were');
  }
  const misspelt = bootstrapFor(['fd00::3']) as any;
  misspelt.static_resources.listeners[0].additional_addresses[0].adress = misspelt.static_resources.listeners[0].additional_addresses[0].address;
  const found: string[] = [];
  check(defs, 'envoy.config.bootstrap.v3.Bootstrap', misspelt, 'bootstrap', found);
  assert.match(found.join('\n'), /additional_addresses\[0\]\.adress: envoy\.config\.listener\.v3\.AdditionalAddress has no such field/);
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
setInterval(() => {}, 1000);
`);
  await chmod(script, 0o755);
  const log = captureLogger();
  const quick = { after: (ms: number, fn: () => void) => realTimers.after(Math.min(ms, 50), fn) };
  const envoy = new EnvoyProcess({ binary: script, configPath: '/tmp/boot.json', adminPort: 1, logger: log.logger, timers: quick, random: () => 0 });
  envoy.start();
  while (((await readFile(marks, 'utf8').catch(() => '')).match(/-c/g) ?? []).length < 2) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(await envoy.ready(), false, 'running but admin /ready not answering: not ready');
  await envoy.stop();
  const lines = (await readFile(marks, 'utf8')).trim().split('\n');
  assert.deepEqual(lines, ['-c /tmp/boot.json --drain-time-s 5', '-c /tmp/boot.json --drain-time-s 5', 'SIGTERM']);
  assert.ok(log.lines().some((l) => l.msg === 'proxy exited unexpectedly; restarting' && l.code === 3));
});
