import type { ViewSource, WorkloadView } from '../../mesh/view.js';
import type { SidecarPlan } from '../../policy/plan.js';
import { planSidecar } from '../../policy/plan-sidecar.js';

/** Where the xDS server reads what this sidecar enforces; a change is pushed to Envoy. */
export interface PlanSource {
  current(): SidecarPlan;
  /** Called with each new plan; returns the unsubscribe. */
  onChange(listener: (plan: SidecarPlan) => void): () => void;
}

/**
 * What a sidecar does before any policy is known (design.md, "Traffic and policy"): every inbound port
 * PERMISSIVE with no authorization, mTLS out only to the view's meshed destinations (none without a view).
 */
export function defaultPlan(trustDomain: string, view: WorkloadView | null): SidecarPlan {
  return {
    trustDomain: view?.trustDomain ?? trustDomain,
    inbound: [{ port: null, mode: 'PERMISSIVE', http: false, networkRbac: [], httpRbac: [] }],
    outbound: view?.destinations ?? [],
  };
}

/** A plan set from outside: the agent's own when it has no view source, a test's to drive updates. */
export class SettablePlanSource implements PlanSource {
  private readonly listeners = new Set<(plan: SidecarPlan) => void>();
  constructor(private plan: SidecarPlan) {}

  current(): SidecarPlan {
    return this.plan;
  }

  set(plan: SidecarPlan): void {
    this.plan = plan;
    for (const l of this.listeners) l(plan);
  }

  onChange(listener: (plan: SidecarPlan) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** The plan of each view the agent holds: what its policies mean (src/policy); defaultPlan until the first view. */
export function planSourceFromViews(views: ViewSource, trustDomain: string, planFor: (view: WorkloadView | null) => SidecarPlan = (v) => (v ? planSidecar(v) : defaultPlan(trustDomain, null))): PlanSource {
  const source = new SettablePlanSource(planFor(views.current()));
  views.onChange((view) => source.set(planFor(view)));
  return source;
}
