import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadEnvoyProtos } from '../../src/agent/envoy-protos.js';
import { clusters } from '../../src/agent/xds/clusters.js';
import { configProtos } from '../../src/agent/xds/config-protos.js';
import { defaultPlan } from '../../src/agent/xds/plan-source.js';
import { listeners } from '../../src/agent/xds/listeners.js';
import { canonicalIp } from '../../src/agent/xds/outbound-listener.js';
import type { SidecarPlan } from '../../src/policy/plan.js';
import { CLUSTER_TYPE, ENVOY_CONFIG_PROTOS, LISTENER_TYPE, resourceProblems } from '../helpers/envoy-config-check.js';
import { decodeToJson, withoutDefaults } from '../helpers/envoy-roundtrip.js';
import { allowOnly, API, API_V2, denyDelete, DESTINATIONS, manyDestinations, plan, port, TD } from './xds-plans.js';

const defs = loadEnvoyProtos(ENVOY_CONFIG_PROTOS);
type Json = Record<string, any>;

/** Every listener and cluster passes Envoy's protos, and its bytes decode (with the full protos) to what was meant. */
function verified(p: SidecarPlan, ips: string[]): { lds: Json[]; cds: Json[] } {
  const lds = listeners(p, { ips }) as Json[];
  const cds = clusters(p) as Json[];
  for (const [type, list, encode] of [[LISTENER_TYPE, lds, configProtos().encodeListener], [CLUSTER_TYPE, cds, configProtos().encodeCluster]] as const) {
    for (const r of list) {
      assert.deepEqual(resourceProblems(defs, type, r, r.name), [], `${type} ${r.name}`);
      assert.deepEqual(withoutDefaults(defs, type, decodeToJson(defs, type, encode(r))), withoutDefaults(defs, type, r), `${r.name} survives the wire`);
    }
  }
  return { lds, cds };
}

const chains = (l: Json) => Object.fromEntries((l.filter_chains as Json[]).map((c) => [c.name, c]));
const filterNames = (c: Json) => (c.filters as Json[]).map((f) => f.name.replace('envoy.filters.network.', ''));

const inboundCases: Array<{ name: string; plan: SidecarPlan; chains: Record<string, { match: Json | undefined; tls: boolean; filters: string[] }> }> = [
  {
    name: 'PERMISSIVE (the default plan): mesh mTLS terminated, everything else passed through',
    plan: defaultPlan(TD, null),
    chains: {
      'inbound|any|mtls': { match: { transport_protocol: 'tls', application_protocols: ['meshid'] }, tls: true, filters: ['tcp_proxy'] },
      'inbound|any|passthrough': { match: undefined, tls: false, filters: ['tcp_proxy'] },
    },
  },
  {
    name: 'STRICT: only the mTLS chain, so plaintext matches nothing and is closed',
    plan: plan([port(null, 'STRICT')]),
    chains: { 'inbound|any|mtls': { match: { transport_protocol: 'tls', application_protocols: ['meshid'] }, tls: true, filters: ['tcp_proxy'] } },
  },
  {
    name: 'DISABLE: only the passthrough chain',
    plan: plan([port(null, 'DISABLE')]),
    chains: { 'inbound|any|passthrough': { match: undefined, tls: false, filters: ['tcp_proxy'] } },
  },
  {
    name: 'port-level mix: 8080 STRICT HTTP with both RBACs, 9000 DISABLE, the rest PERMISSIVE with network RBAC',
    plan: plan([port(8080, 'STRICT', { http: true, networkRbac: [allowOnly(API)], httpRbac: [denyDelete()] }), port(9000, 'DISABLE'), port(null, 'PERMISSIVE', { networkRbac: [allowOnly(API)] })]),
    chains: {
      'inbound|8080|mtls': { match: { destination_port: 8080, transport_protocol: 'tls', application_protocols: ['meshid'] }, tls: true, filters: ['rbac', 'http_connection_manager'] },
      'inbound|9000|passthrough': { match: { destination_port: 9000 }, tls: false, filters: ['tcp_proxy'] },
      'inbound|any|mtls': { match: { transport_protocol: 'tls', application_protocols: ['meshid'] }, tls: true, filters: ['rbac', 'tcp_proxy'] },
      'inbound|any|passthrough': { match: undefined, tls: false, filters: ['rbac', 'tcp_proxy'] },
    },
  },
  {
    name: 'PERMISSIVE HTTP port: mTLS goes through the HTTP manager; plaintext too once there are HTTP rules to enforce',
    plan: plan([port(8080, 'PERMISSIVE', { http: true, httpRbac: [denyDelete()] }), port(8081, 'PERMISSIVE', { http: true }), port(null, 'PERMISSIVE')]),
    chains: {
      'inbound|8080|mtls': { match: { destination_port: 8080, transport_protocol: 'tls', application_protocols: ['meshid'] }, tls: true, filters: ['http_connection_manager'] },
      'inbound|8080|passthrough': { match: { destination_port: 8080 }, tls: false, filters: ['http_connection_manager'] },
      'inbound|8081|mtls': { match: { destination_port: 8081, transport_protocol: 'tls', application_protocols: ['meshid'] }, tls: true, filters: ['http_connection_manager'] },
      'inbound|8081|passthrough': { match: { destination_port: 8081 }, tls: false, filters: ['tcp_proxy'] },
      'inbound|any|mtls': { match: { transport_protocol: 'tls', application_protocols: ['meshid'] }, tls: true, filters: ['tcp_proxy'] },
      'inbound|any|passthrough': { match: undefined, tls: false, filters: ['tcp_proxy'] },
    },
  },
];

for (const c of inboundCases) {
  test(`inbound listener, ${c.name}; Envoy's protos accept it`, () => {
    for (const ips of [['10.1.2.3'], ['10.1.2.3', 'fd00:10::3']]) {
      const { lds } = verified(c.plan, ips);
      const inbound = lds.find((l) => l.name === 'virtualInbound')!;
      assert.deepEqual(inbound.address, { socket_address: { address: '0.0.0.0', port_value: 15006 } });
      assert.deepEqual(inbound.additional_addresses, ips.length > 1 ? [{ address: { socket_address: { address: '::', port_value: 15006 } } }] : undefined);
      assert.deepEqual(inbound.listener_filters.map((f: Json) => f.name), ['envoy.filters.listener.original_dst', 'envoy.filters.listener.tls_inspector']);
      assert.equal(inbound.default_filter_chain, undefined, 'no fallback: a STRICT port stays closed to plaintext');
      const got = chains(inbound);
      assert.deepEqual(Object.keys(got).sort(), Object.keys(c.chains).sort());
      for (const [name, want] of Object.entries(c.chains)) {
        const chain = got[name]!;
        assert.deepEqual(chain.filter_chain_match, want.match, name);
        assert.deepEqual(filterNames(chain), want.filters, name);
        if (!want.tls) assert.equal(chain.transport_socket, undefined, name);
        else {
          const tls = chain.transport_socket.typed_config;
          assert.equal(tls['@type'], 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext');
          assert.equal(tls.require_client_certificate, true);
          assert.deepEqual(tls.common_tls_context.tls_params, { tls_minimum_protocol_version: 'TLSv1_3', tls_maximum_protocol_version: 'TLSv1_3' });
          assert.deepEqual(tls.common_tls_context.alpn_protocols, ['meshid']);
          assert.deepEqual(tls.common_tls_context.combined_validation_context.default_validation_context.match_typed_subject_alt_names, [{ san_type: 'URI', matcher: { prefix: 'spiffe://cluster.local/' } }]);
          assert.equal(tls.common_tls_context.combined_validation_context.validation_context_sds_secret_config.name, 'ROOTCA');
          assert.equal(tls.common_tls_context.tls_certificate_sds_secret_configs[0].name, 'default');
        }
        const hcm = (chain.filters as Json[]).find((f) => f.name.endsWith('http_connection_manager'));
        if (hcm) {
          const port = c.plan.inbound.find((p) => name.startsWith(`inbound|${p.port ?? 'any'}|`))!;
          assert.deepEqual(hcm.typed_config.http_filters.map((f: Json) => f.name), [...port.httpRbac.map((f) => f.name), 'envoy.filters.http.router']);
          assert.equal(hcm.typed_config.route_config.virtual_hosts[0].routes[0].route.cluster, 'inbound-passthrough');
        }
      }
    }
  });
}

test('outbound listener: one mTLS chain per meshed destination (IPv4 and IPv6, pod IP and Service port), the default chain passes through', () => {
  const { lds, cds } = verified(plan([port(null, 'PERMISSIVE')], DESTINATIONS), ['10.1.2.3', 'fd00:10::3']);
  const outbound = lds.find((l) => l.name === 'virtualOutbound')!;
  assert.deepEqual(outbound.listener_filters.map((f: Json) => f.name), ['envoy.filters.listener.original_dst']);
  assert.deepEqual(outbound.additional_addresses, [{ address: { socket_address: { address: '::', port_value: 15001 } } }]);
  const got = chains(outbound);
  assert.deepEqual(Object.keys(got), ['outbound|sidecar-port', 'outbound|10.0.0.7', 'outbound|10.96.0.10:80', 'outbound|fd00:10::7', 'outbound|[fd00:96::10]:8080']);
  for (const c of Object.values(got) as Json[]) assert.equal(c.filter_chain_match, undefined, 'chosen by filter_chain_matcher alone');
  const action = (name: string) => ({ action: { name, typed_config: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: name } } });
  const portInput = { name: 'destination-port', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.matching.common_inputs.network.v3.DestinationPortInput' } };
  const sidecarPorts = { 15020: action('outbound|sidecar-port'), 15021: action('outbound|sidecar-port'), 15090: action('outbound|sidecar-port') };
  assert.deepEqual(outbound.filter_chain_matcher, {
    matcher_tree: { input: portInput, exact_match_map: { map: sidecarPorts } },
    on_no_match: {
      matcher: {
        matcher_tree: {
          input: { name: 'destination-ip', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.matching.common_inputs.network.v3.DestinationIPInput' } },
          exact_match_map: {
            map: {
              '10.0.0.7': action('outbound|10.0.0.7'),
              '10.96.0.10': { matcher: { matcher_tree: { input: portInput, exact_match_map: { map: { 80: action('outbound|10.96.0.10:80') } } } } },
              'fd00:10::7': action('outbound|fd00:10::7'),
              'fd00:96::10': { matcher: { matcher_tree: { input: portInput, exact_match_map: { map: { 8080: action('outbound|[fd00:96::10]:8080') } } } } },
            },
          },
        },
      },
    },
  }, 'a peer sidecar\'s own ports stay plaintext; then IP, then (Service IPs) port; no match: the default chain');
  assert.equal(outbound.default_filter_chain.filters[0].typed_config.cluster, 'PassthroughCluster');

  const byName = Object.fromEntries(cds.map((c) => [c.name, c]));
  assert.deepEqual(Object.keys(byName).sort(), ['PassthroughCluster', 'inbound-passthrough', 'outbound|10.0.0.7', 'outbound|10.96.0.10:80', 'outbound|[fd00:96::10]:8080', 'outbound|fd00:10::7']);
  assert.equal(byName.PassthroughCluster.transport_socket, undefined, 'plaintext to anything not meshed');
  for (const d of DESTINATIONS) {
    const name = got[`outbound|${d.port === null ? d.address : d.address.includes(':') ? `[${d.address}]:${d.port}` : `${d.address}:${d.port}`}`]!.name;
    assert.equal(got[name]!.filters[0].typed_config.cluster, name, 'chain and cluster share the name');
    const c = byName[name];
    assert.deepEqual([c.type, c.lb_policy], ['ORIGINAL_DST', 'CLUSTER_PROVIDED']);
    const ctx = c.transport_socket.typed_config.common_tls_context;
    assert.equal(c.transport_socket.typed_config['@type'], 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext');
    assert.deepEqual(ctx.alpn_protocols, ['meshid']);
    assert.equal(ctx.tls_params.tls_minimum_protocol_version, 'TLSv1_3');
    assert.deepEqual(ctx.combined_validation_context.default_validation_context.match_typed_subject_alt_names, [...d.identities].sort().map((id) => ({ san_type: 'URI', matcher: { exact: id } })), 'secure naming: exactly the identities there');
  }
  assert.deepEqual(byName['outbound|10.96.0.10:80'].transport_socket.typed_config.common_tls_context.combined_validation_context.default_validation_context.match_typed_subject_alt_names.map((m: Json) => m.matcher.exact), [API, API_V2]);
});

test('an update of one destination changes its chain and its cluster only; every other chain and cluster stays byte-identical', () => {
  const before = plan([port(null, 'PERMISSIVE')], DESTINATIONS);
  const after = plan([port(null, 'PERMISSIVE')], [...DESTINATIONS.slice(0, 1), { ...DESTINATIONS[1]!, identities: [API] }, ...DESTINATIONS.slice(2), { address: '10.0.0.9', port: null, identities: [API] }]);
  const [a, b] = [verified(before, ['10.1.2.3']), verified(after, ['10.1.2.3'])];
  const bytes = (l: Json) => Object.fromEntries((l.filter_chains as Json[]).map((c) => [c.name, JSON.stringify(c)]));
  const [ca, cb] = [bytes(a.lds[0]!), bytes(b.lds[0]!)];
  const changed = Object.keys(cb).filter((k) => ca[k] !== cb[k]).sort();
  assert.deepEqual(changed, ['outbound|10.0.0.9'], 'only the new chain differs (the identity change is in the cluster)');
  assert.notDeepEqual((b.lds[0] as Json).filter_chain_matcher, (a.lds[0] as Json).filter_chain_matcher, 'the matcher gains the new IP');
  const encodedClusters = (x: { cds: Json[] }) => Object.fromEntries(x.cds.map((c) => [c.name, configProtos().encodeCluster(c).toString('base64')]));
  const [ka, kb] = [encodedClusters(a), encodedClusters(b)];
  assert.deepEqual(Object.keys(kb).filter((k) => ka[k] !== kb[k]).sort(), ['outbound|10.0.0.9', 'outbound|10.96.0.10:80']);
  assert.equal(JSON.stringify(a.lds[1]), JSON.stringify(b.lds[1]), 'the inbound listener is untouched');
});

test('10,000 meshed destinations: every listener and cluster passes Envoy\'s protos; size and time of generation', (t) => {
  const big = plan([port(8080, 'STRICT', { http: true, httpRbac: [denyDelete()] }), port(null, 'PERMISSIVE', { networkRbac: [allowOnly(API)] })], manyDestinations(10_000));
  configProtos();
  // CPU time as well as wall time: this machine's cores are shared, so the wall clock says little.
  const cpu = () => process.cpuUsage().user / 1000;
  const [started, startedCpu] = [performance.now(), cpu()];
  const lds = listeners(big, { ips: ['10.1.2.3', 'fd00:10::3'] });
  const cds = clusters(big);
  const [built, builtCpu] = [performance.now(), cpu()];
  const ldsBytes = lds.map(configProtos().encodeListener);
  const cdsBytes = cds.map(configProtos().encodeCluster);
  const [encoded, encodedCpu] = [performance.now(), cpu()];
  const size = (bs: Buffer[]) => bs.reduce((n, b) => n + b.length, 0);
  t.diagnostic(`10,000 destinations: build ${(built - started).toFixed(0)} ms (CPU ${(builtCpu - startedCpu).toFixed(0)} ms), encode ${(encoded - built).toFixed(0)} ms (CPU ${(encodedCpu - builtCpu).toFixed(0)} ms); LDS ${(size(ldsBytes) / 1e6).toFixed(2)} MB, CDS ${(size(cdsBytes) / 1e6).toFixed(2)} MB (${cds.length} clusters)`);
  assert.equal((lds[0] as Json).filter_chains.length, 10_001);
  assert.equal(cds.length, 10_002);
  const checkStarted = performance.now();
  for (const l of lds) assert.deepEqual(resourceProblems(defs, LISTENER_TYPE, l, String(l.name)), []);
  for (const c of cds) assert.deepEqual(resourceProblems(defs, CLUSTER_TYPE, c, String(c.name)), []);
  t.diagnostic(`proto check of all of it: ${(performance.now() - checkStarted).toFixed(0)} ms`);
  assert.ok(encodedCpu - startedCpu < 2_000, `generation takes less CPU than the 2 s a change has to reach Envoy: ${(encodedCpu - startedCpu).toFixed(0)} ms`);
});

test('a filter Envoy\'s protos do not know is refused with its path, by the checker and by the agent\'s encoder', () => {
  const bad = plan([port(null, 'PERMISSIVE', { networkRbac: [{ name: 'envoy.filters.network.rbac', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC', stat_prefix: 'x', rulez: {} } }] })]);
  const inbound = listeners(bad, { ips: ['10.1.2.3'] })[1]!;
  assert.match(resourceProblems(defs, LISTENER_TYPE, inbound, 'virtualInbound').join('\n'), /filters\[0\]\.typed_config<type\.googleapis\.com\/envoy\.extensions\.filters\.network\.rbac\.v3\.RBAC>\.rulez: envoy\.extensions\.filters\.network\.rbac\.v3\.RBAC has no such field/);
  assert.throws(() => configProtos().encodeListener(inbound), /listener virtualInbound\.filter_chains\[0\]\.filters\[0\]\.typed_config<envoy\.extensions\.filters\.network\.rbac\.v3\.RBAC>\.rulez: envoy\.extensions\.filters\.network\.rbac\.v3\.RBAC has no such field/);
  const unknownType = plan([port(null, 'PERMISSIVE', { networkRbac: [{ name: 'x', typed_config: { '@type': 'type.googleapis.com/envoy.nope.v3.Filter' } }] })]);
  assert.throws(() => configProtos().encodeListener(listeners(unknownType, { ips: [] })[1]), /@type envoy\.nope\.v3\.Filter is not a message the agent knows/);
});

test('IPv6 destinations are matched in the form Envoy renders the destination IP (compressed, lower case)', () => {
  const { lds } = verified(plan([port(null, 'PERMISSIVE')], [{ address: 'FD00:0096:0:0::10', port: null, identities: [API] }]), ['10.1.2.3']);
  const ips = Object.keys(lds[0]!.filter_chain_matcher.on_no_match.matcher.matcher_tree.exact_match_map.map);
  assert.deepEqual(ips, ['fd00:96::10']);
  assert.equal(canonicalIp('10.0.0.7'), '10.0.0.7');
});
