import type { SdsSubscription } from './bootstrap-plan.js';
import { checkSecret, type DecodedSecret, type SecretView } from './secret-check.js';
import { SDS_API, type Response } from './subscriber.js';

/** The key and certificates a transport socket is built from; the key never reaches the state file. */
export interface TlsMaterial { chain?: string; key?: string; ca?: string }

/**
 * The secrets of one SDS subscription: which names it wants (the bootstrap's, and those LDS and CDS resources
 * name), what was accepted for each, and the check Envoy applies before it loads a secret into a transport socket.
 */
export class SdsSecrets {
  readonly secrets = new Map<string, SecretView>();
  private readonly keys = new Map<string, string>();

  constructor(readonly sub: SdsSubscription, private readonly decodeSecret: (bytes: Buffer) => DecodedSecret, private readonly readFile: (path: string) => string) {}

  names(): string[] {
    return [...this.sub.secrets.keys()];
  }

  /** Every secret this subscription is for has been accepted. */
  complete(): boolean {
    return this.names().every((name) => this.secrets.has(name));
  }

  material(name: string): TlsMaterial {
    const view = this.secrets.get(name);
    return { chain: view?.certificateChain, key: this.keys.get(name), ca: view?.trustedCa };
  }

  /** All the response's secrets, checked; nothing of it is applied unless every one passes. */
  accept(res: Response, version: string): { apply(): void } | { problem: string } {
    const checked = new Map<string, { view: SecretView; key?: string }>();
    for (const resource of res.resources ?? []) {
      if (resource.type_url !== SDS_API.typeUrl) return { problem: `resource type_url "${resource.type_url ?? ''}" is not ${SDS_API.typeUrl}` };
      let secret: DecodedSecret;
      try {
        secret = this.decodeSecret(resource.value ?? Buffer.alloc(0));
      } catch (err) {
        return { problem: `a resource does not decode as a Secret: ${(err as Error).message}` };
      }
      const kinds = this.sub.secrets.get(secret.name ?? '');
      // SotW: a resource nobody asked for is ignored, as Envoy does.
      if (!kinds) continue;
      const result = checkSecret(secret, kinds, version, this.readFile);
      if ('problem' in result) return result;
      checked.set(secret.name!, result);
    }
    return {
      apply: () => {
        for (const [name, { view, key }] of checked) {
          this.secrets.set(name, view);
          if (key) this.keys.set(name, key);
        }
      },
    };
  }
}
