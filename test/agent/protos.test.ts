import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { fromJSON, type MessageTypeDefinition } from '@grpc/proto-loader';
import { envoyProtoSubsetJson, loadEnvoyProtos, PROTO_OPTIONS } from '../../src/agent/envoy-protos.js';
import { CDS_SERVICE, LDS_SERVICE, SDS_SERVICE, SECRET_TYPE_URL, sdsProtos } from '../../src/agent/sds-protos.js';
import { CONFIG_TYPES_SOURCE, configTypesModule, parseConfigProtoJson } from '../../src/agent/xds/config-types-generate.js';
import { parseSdsProtoJson, SDS_PROTO_FILES, SDS_TYPES_SOURCE, sdsTypesModule } from '../../src/agent/sds-types-generate.js';

type Message = MessageTypeDefinition<object, object>;

const loadEnvoyProtoSubset = (files: string[], roots: string[]) => fromJSON(envoyProtoSubsetJson(files, roots), PROTO_OPTIONS);

const request = {
  version_info: 'v1',
  node: {
    id: 'sidecar~spiffe://cluster.local/ns/shop/sa/web', cluster: 'web.shop',
    metadata: { fields: { ISTIO_VERSION: { string_value: '1.24' }, N: { number_value: 3 }, L: { list_value: { values: [{ bool_value: true }, { null_value: 'NULL_VALUE' }] } } } },
    dynamic_parameters: { 'envoy.config.cluster.v3.Cluster': { params: { zone: 'a' } } },
    locality: { region: 'eu', zone: 'eu-1', sub_zone: 'rack-7' },
    user_agent_name: 'envoy',
    user_agent_build_version: { version: { major_number: 1, minor_number: 31, patch: 2 }, metadata: { fields: { 'build.type': { string_value: 'RELEASE' } } } },
    extensions: [{ name: 'envoy.transport_sockets.tls', category: 'envoy.transport_sockets.downstream', type_urls: [SECRET_TYPE_URL], disabled: false }],
    client_features: ['envoy.lb.does_not_support_overprovisioning'],
    listening_addresses: [{ socket_address: { address: '0.0.0.0', port_value: 15001, protocol: 'TCP' } }, { pipe: { path: '/var/run/meshid/sds.sock', mode: 384 } }],
  },
  resource_names: ['default', 'ROOTCA'],
  type_url: SECRET_TYPE_URL,
  response_nonce: '1-1',
  error_detail: { code: 3, message: 'bad certificate', details: [{ type_url: 'type.googleapis.com/x', value: Buffer.from([1, 2, 3]) }] },
};

const secrets = [
  {
    name: 'default',
    tls_certificate: { certificate_chain: { inline_bytes: Buffer.from('chain') }, private_key: { inline_bytes: Buffer.from('key') }, watched_directory: { path: '/etc/certs' } },
  },
  {
    name: 'ROOTCA',
    validation_context: {
      trusted_ca: { inline_bytes: Buffer.from('roots') },
      match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { prefix: 'spiffe://cluster.local/', ignore_case: true } }],
      custom_validator_config: { name: 'envoy.tls.cert_validator.spiffe', typed_config: { type_url: 'type.googleapis.com/y', value: Buffer.from([9]) } },
    },
  },
];

test('the SDS subset keeps what the SDS service and Secret reach, and drops the rest of the imported tree', () => {
  const full = loadEnvoyProtos(SDS_PROTO_FILES);
  const subset = loadEnvoyProtoSubset(SDS_PROTO_FILES, [SDS_SERVICE, 'envoy.extensions.transport_sockets.tls.v3.Secret']);
  for (const name of [SDS_SERVICE, 'envoy.service.discovery.v3.DiscoveryRequest', 'envoy.config.core.v3.Node', 'google.protobuf.Struct', 'google.rpc.Status', 'envoy.type.matcher.v3.StringMatcher']) {
    assert.ok(name in subset, name);
  }
  for (const name of ['validate.FieldRules', 'google.protobuf.FileDescriptorProto', 'udpa.annotations.StatusAnnotation', 'envoy.config.core.v3.GrpcService']) {
    assert.ok(name in full, `${name} is in the full tree`);
    assert.ok(!(name in subset), `${name} is not reached by SDS`);
  }
  assert.ok(Object.keys(subset).length * 3 < Object.keys(full).length, `${Object.keys(subset).length} of ${Object.keys(full).length} types`);
  assert.throws(() => loadEnvoyProtoSubset(SDS_PROTO_FILES, ['envoy.nope.v3.Secret']), /envoy\.nope\.v3\.Secret is not in the loaded proto files/);
});

test('the SDS subset reads and writes exactly the bytes of Envoy\'s full definitions', () => {
  const full = loadEnvoyProtos(SDS_PROTO_FILES);
  const fullRequest = full['envoy.service.discovery.v3.DiscoveryRequest'] as Message;
  const fullSecret = full['envoy.extensions.transport_sockets.tls.v3.Secret'] as Message;
  const method = (sdsProtos().service as grpc.ServiceDefinition).StreamSecrets!;

  const wire = fullRequest.serialize(request);
  const read = method.requestDeserialize(wire);
  assert.deepEqual(read, fullRequest.deserialize(wire));
  assert.equal((read as typeof request).node.user_agent_build_version.version.minor_number, 31);
  assert.deepEqual(method.requestSerialize(read), wire);

  for (const secret of secrets) {
    const bytes = sdsProtos().encodeSecret(secret);
    assert.deepEqual(bytes, fullSecret.serialize(secret), secret.name);
    assert.deepEqual(sdsProtos().decodeSecret(bytes), fullSecret.deserialize(bytes));
  }
  const response = { version_info: 'v2', resources: [{ type_url: SECRET_TYPE_URL, value: sdsProtos().encodeSecret(secrets[0]!) }], type_url: SECRET_TYPE_URL, nonce: '1-2', control_plane: { identifier: 'meshid' } };
  assert.deepEqual(method.responseSerialize(response), (full['envoy.service.discovery.v3.DiscoveryResponse'] as Message).serialize(response));
});

test('the agent\'s SDS, LDS and CDS service definitions have the paths and stream kinds of Envoy\'s full definitions', () => {
  const full = loadEnvoyProtos(SDS_PROTO_FILES);
  const ours = sdsProtos();
  for (const [name, mine, methods] of [[SDS_SERVICE, ours.service, 'Secrets'], [LDS_SERVICE, ours.lds, 'Listeners'], [CDS_SERVICE, ours.cds, 'Clusters']] as const) {
    const theirs = full[name] as grpc.ServiceDefinition;
    assert.deepEqual(Object.keys(mine).sort(), [`Delta${methods}`, `Fetch${methods}`, `Stream${methods}`], name);
    for (const [method, def] of Object.entries(theirs)) {
      const { path, requestStream, responseStream, originalName } = mine[method]!;
      assert.deepEqual({ path, requestStream, responseStream, originalName }, { path: def.path, requestStream: def.requestStream, responseStream: def.responseStream, originalName: def.originalName }, `${name}/${method}`);
    }
  }
});

test('the committed Envoy config types (Listener, Cluster, their typed_configs) are exactly those parsed from the installed protos', () => {
  const expected = configTypesModule(parseConfigProtoJson());
  assert.ok(readFileSync(CONFIG_TYPES_SOURCE, 'utf8') === expected, `${CONFIG_TYPES_SOURCE.pathname} differs from the installed @grpc/grpc-js-xds protos: run \`npm run protos\``);
});

test('the committed SDS types are exactly those parsed from Envoy\'s .proto files in node_modules', () => {
  const expected = sdsTypesModule(parseSdsProtoJson());
  assert.ok(readFileSync(SDS_TYPES_SOURCE, 'utf8') === expected, `${SDS_TYPES_SOURCE.pathname} differs from the installed @grpc/grpc-js-xds protos: run \`npm run protos\``);
});
