import type * as protoLoader from '@grpc/proto-loader';

/** protobufjs JSON (what proto-loader's fromJSON takes). */
export type ProtoJson = Parameters<typeof protoLoader.fromJSON>[0];

/** The parts of protobufjs' reflection objects (Root, Namespace, Type, Enum, Service) this walk reads. */
export interface Reflected {
  fullName: string;
  parent: Reflected | null;
  fieldsArray?: Array<{ resolvedType: Reflected | null }>;
  methodsArray?: Array<{ resolvedRequestType: Reflected | null; resolvedResponseType: Reflected | null }>;
  nestedArray?: Reflected[];
  toJSON(): object;
}

export interface ReflectedRoot {
  lookup(name: string): Reflected | null;
}

/**
 * The services and messages `names` reach, as protobufjs JSON. Envoy's SDS files import most of
 * envoy.config.core, protoc-gen-validate, the udpa/xds annotations and google/protobuf/descriptor.proto:
 * a process that only speaks SDS keeps the ~45 types on its wire, not the ~160 of the whole tree. A
 * top-level declaration is kept or dropped as a whole, with everything nested in it.
 */
export function reachableSubset(root: ReflectedRoot, names: string[]): ProtoJson {
  const kept = new Set<Reflected>();
  const queue: Reflected[] = [];
  const reach = (t: Reflected | null): void => {
    if (!t) return;
    const top = topLevel(t);
    if (!kept.has(top)) {
      kept.add(top);
      queue.push(top);
    }
  };
  for (const name of names) {
    const found = root.lookup(name);
    if (!found) throw new Error(`${name} is not in the loaded proto files`);
    reach(found);
  }
  const walk = (t: Reflected): void => {
    for (const f of t.fieldsArray ?? []) reach(f.resolvedType);
    for (const m of t.methodsArray ?? []) {
      reach(m.resolvedRequestType);
      reach(m.resolvedResponseType);
    }
    for (const n of t.nestedArray ?? []) walk(n);
  };
  while (queue.length > 0) walk(queue.pop()!);

  const json: ProtoJson = { nested: {} };
  for (const t of kept) {
    const path = t.fullName.replace(/^\./, '').split('.');
    let ns = json;
    for (const part of path.slice(0, -1)) ns = (ns.nested![part] ??= { nested: {} }) as ProtoJson;
    ns.nested![path[path.length - 1]!] = t.toJSON() as ProtoJson;
  }
  return json;
}

/** Types and services are declarations; a plain namespace (a package) has neither fields nor methods. */
function isDeclaration(t: Reflected): boolean {
  return t.fieldsArray !== undefined || t.methodsArray !== undefined;
}

function topLevel(t: Reflected): Reflected {
  let top = t;
  while (top.parent && isDeclaration(top.parent)) top = top.parent;
  return top;
}
