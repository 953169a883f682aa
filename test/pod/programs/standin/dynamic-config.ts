import type { PackageDefinition } from '@grpc/proto-loader';
import { resourceProblems } from '../../../helpers/envoy-config-check.js';
import { decodeToJson } from '../../../helpers/envoy-roundtrip.js';
import { collectSds, type BootstrapPlan, type SdsSubscription, type SecretKind } from './bootstrap-plan.js';
import type { Response, XdsApi } from './subscriber.js';

type Json = Record<string, any>;

/**
 * The listeners and clusters accepted over LDS and CDS. A response is decoded with Envoy's protos, checked as Envoy
 * checks it (no unknown field, every @type known, every SDS source reachable) and applied whole or not at all;
 * SotW: what a response leaves out is removed.
 */
export class DynamicConfig {
  readonly listeners = new Map<string, Json>();
  readonly clusters = new Map<string, Json>();

  constructor(
    private readonly defs: PackageDefinition,
    private readonly plan: BootstrapPlan,
    /** Called on apply with the subscriptions whose secret names grew. */
    private readonly onSecretsNamed: (subs: SdsSubscription[]) => void,
  ) {}

  accept(api: XdsApi, message: string, res: Response): { apply(): void } | { problem: string } {
    const decoded = new Map<string, Json>();
    const named: Array<{ sub: SdsSubscription; name: string; kind: SecretKind }> = [];
    for (const [i, resource] of (res.resources ?? []).entries()) {
      if (resource.type_url !== api.typeUrl) return { problem: `resource type_url "${resource.type_url ?? ''}" is not ${api.typeUrl}` };
      let json: Json;
      try {
        json = decodeToJson(this.defs, message, resource.value ?? Buffer.alloc(0));
      } catch (err) {
        return { problem: `resource ${i} does not decode as ${message}: ${(err as Error).message}` };
      }
      const path = `${api.kind === 'LDS' ? 'listener' : 'cluster'} ${String(json.name ?? i)}`;
      const problems = resourceProblems(this.defs, message, json, path);
      collectSds(json, path, (name, kind, source, at) => {
        if (name === '') return void problems.push(`${at}.name: an SDS secret needs a name`);
        const sub = this.plan.sdsSource(source, `${at}.sds_config`, problems);
        if (sub) named.push({ sub, name, kind });
      });
      if (problems.length > 0) return { problem: problems.join('; ') };
      if (typeof json.name !== 'string' || decoded.has(json.name)) return { problem: `${path}: every resource needs a unique name` };
      decoded.set(json.name, json);
    }
    const target = api.kind === 'LDS' ? this.listeners : this.clusters;
    return {
      apply: () => {
        target.clear();
        for (const [name, json] of decoded) target.set(name, json);
        const grown = new Set<SdsSubscription>();
        for (const { sub, name, kind } of named) {
          const kinds = sub.secrets.get(name) ?? new Set<SecretKind>();
          if (!kinds.has(kind)) grown.add(sub);
          sub.secrets.set(name, kinds.add(kind));
        }
        if (grown.size > 0) this.onSecretsNamed([...grown]);
      },
    };
  }
}
