import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export type WebhookOutcome = 'accepted' | 'ignored' | 'rejected' | 'unavailable';

export interface Metrics {
  registry: Registry;
  webhooks: Counter<'source' | 'outcome'>;
  promotions: Counter<'env' | 'result'>;
  /** Webhook received (the promotion's creation) → commit pushed. */
  promotionDuration: Histogram<'env'>;
  pushRetries: Counter;
  gateWaits: Counter<'env' | 'gate'>;
  /** DORA: source commit → healthy in the environment, per deployed app. */
  leadTime: Histogram<'env'>;
  /** DORA: promotions that landed (rollbacks included). */
  deployments: Counter<'env'>;
  /** DORA: deployments degraded or rolled back within dora.failureWindow of landing. */
  deploymentFailures: Counter<'env'>;
  /** 1 for each way Redis may lose accepted promotions (`no_persistence`, `eviction`, `unknown`), else 0. */
  redisPersistenceRisk: Gauge<'risk'>;
  /** Registers a collector that reads job counts per state when Prometheus scrapes. */
  watchQueue(name: string, counts: () => Promise<Record<string, number>>): void;
}

/** One registry per Hoist instance (no global default registry), so tests can run several side by side. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const queues = new Map<string, () => Promise<Record<string, number>>>();
  new Gauge({
    name: 'hoist_queue_jobs',
    help: 'Jobs in each BullMQ queue by state',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [queue, counts] of queues) {
        const byState = await counts().catch(() => ({}) as Record<string, number>);
        for (const [state, n] of Object.entries(byState)) this.set({ queue, state }, n);
      }
    },
  });
  return {
    registry,
    webhooks: new Counter({ name: 'hoist_webhooks_total', help: 'Webhook deliveries by source and outcome', labelNames: ['source', 'outcome'], registers: [registry] }),
    promotions: new Counter({ name: 'hoist_promotions_total', help: 'Finished promotions by environment and result', labelNames: ['env', 'result'], registers: [registry] }),
    promotionDuration: new Histogram({
      name: 'hoist_promotion_duration_seconds',
      help: 'From webhook received to GitOps commit pushed',
      labelNames: ['env'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    pushRetries: new Counter({ name: 'hoist_push_retries_total', help: 'Pushes re-applied because the GitOps branch moved', registers: [registry] }),
    gateWaits: new Counter({ name: 'hoist_gate_waits_total', help: 'Gate checks that found a gate still closed', labelNames: ['env', 'gate'], registers: [registry] }),
    leadTime: new Histogram({
      name: 'hoist_lead_time_seconds',
      help: 'Lead time for changes: from the source commit to healthy in the environment',
      labelNames: ['env'],
      // Minutes to a month: a change may sit in staging for weeks before prod.
      buckets: [60, 300, 900, 1800, 3600, 7200, 14_400, 28_800, 86_400, 259_200, 604_800, 2_592_000],
      registers: [registry],
    }),
    deployments: new Counter({ name: 'hoist_deployments_total', help: 'Deployments (landed promotions, rollbacks included) by environment', labelNames: ['env'], registers: [registry] }),
    deploymentFailures: new Counter({
      name: 'hoist_deployment_failures_total',
      help: 'Deployments that degraded or were rolled back within dora.failureWindow of landing, by environment',
      labelNames: ['env'],
      registers: [registry],
    }),
    redisPersistenceRisk: new Gauge({
      name: 'hoist_redis_persistence_risk',
      help: 'Whether Redis may lose accepted promotions, checked at start-up: no_persistence, eviction, or unknown (CONFIG refused)',
      labelNames: ['risk'],
      registers: [registry],
    }),
    watchQueue: (name, counts) => void queues.set(name, counts),
  };
}
