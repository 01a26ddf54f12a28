import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createSyntheticGitops } from '../../test/helpers/git-repos.js';
import { API_TOKEN, WEBHOOK_SECRET } from '../../test/helpers/hoist.js';
import { REGISTRY_BINARY, startRecordingProxy, startRegistry } from '../../test/helpers/registry.js';
import type { Goal } from '../lib/report.js';
import type { BenchContext } from '../lib/context.js';
import { sequentialPromotions, type SequentialResult } from '../lib/promotions.js';
import { fmt, markdownTable, round, summarize, type Summary } from '../lib/stats.js';

export interface DigestResult {
  registry: string;
  /** The same app, repo shape and registry host twice in this run: `pin: tag` (the default), then `pin: digest`. */
  tagOnly: SequentialResult;
  pinned: SequentialResult;
  /** Promotions of the pinned pass (the cold first one included) and the manifest requests the registry saw meanwhile. */
  promotions: number;
  manifestRequests: number;
  requestsPerPromotion: number;
  /** pinned p50 − tag-only p50, 202 → commit on the remote. */
  addedP50Ms: number;
  /** The floor of what pinning adds: one manifest HEAD against the same registry, from the bench, keep-alive. */
  floor: Summary;
}

const APP = 'web';
const OVERLAY = 'overlays/dev/kustomization.yaml';

const configText = (url: string, image: string, pin: 'tag' | 'digest') => `gitops: { url: "${url}", branch: main }
gitlab: { webhookSecret: ${WEBHOOK_SECRET} }
api: { token: ${API_TOKEN} }
environments:
  - { name: dev, path: overlays/dev, promotion: auto, pin: ${pin} }
apps:
  - { name: ${APP}, project: group/${APP}, image: "${image}", tag: "p$CI_PIPELINE_ID" }
`;

/**
 * Scenario 7: what `pin: digest` costs against the local registry (Debian's docker-registry, anonymous, behind a
 * recording proxy): registry requests per promotion and app, and the p50 it adds over `pin: tag` in the same run,
 * beside its floor (one manifest HEAD). Sequential single-app promotions as in scenario 2.
 */
export async function digestScenario(ctx: BenchContext): Promise<DigestResult | undefined> {
  if (!existsSync(REGISTRY_BINARY)) {
    ctx.log(`7 digest: ${REGISTRY_BINARY} is missing (Debian's docker-registry package); skipped`);
    return undefined;
  }
  const runs = ctx.quick ? 15 : 50;
  const firstPipelineId = 100_000;
  const registry = await startRegistry();
  ctx.defer(() => registry.stop());
  const proxy = await startRecordingProxy(registry.url);
  ctx.defer(() => proxy.close());
  const image = `${proxy.host}/group/${APP}`;
  ctx.log(`7 digest: pushing ${runs + 1} tags to docker-registry at ${registry.host}`);
  for (let id = firstPipelineId; id <= firstPipelineId + runs; id++) await registry.push(`group/${APP}`, `p${id}`);

  const pass = async (pin: 'tag' | 'digest') => {
    const repo = await createSyntheticGitops([APP], { registry: proxy.host });
    ctx.defer(() => repo.cleanup());
    ctx.log(`7 digest: pin: ${pin}, ${runs} sequential promotions`);
    return sequentialPromotions(ctx, {
      name: `7 pin ${pin}`,
      scenario: '7 digest',
      bare: repo.bare,
      configText: configText(repo.url, image, pin),
      app: APP,
      image,
      overlayFile: OVERLAY,
      runs,
      firstPipelineId,
    });
  };
  const tagOnly = await pass('tag');
  const before = proxy.requests.length;
  const pinned = await pass('digest');
  const manifestRequests = proxy.requests.slice(before).filter((r) => r.path.includes('/manifests/')).length;
  const promotions = pinned.runs + (pinned.coldMs === null ? 0 : 1);

  const heads: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const res = await fetch(`${registry.url}/v2/group/${APP}/manifests/p${firstPipelineId + i}`, { method: 'HEAD', headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } });
    await res.body?.cancel();
    heads.push(performance.now() - started);
  }
  const floor = summarize(heads);
  const result: DigestResult = {
    registry: spawnSync(REGISTRY_BINARY, ['--version'], { encoding: 'utf8' }).stdout.trim(),
    tagOnly,
    pinned,
    promotions,
    manifestRequests,
    requestsPerPromotion: promotions > 0 ? round(manifestRequests / promotions, 2) : Number.NaN,
    addedP50Ms: round(pinned.fromAnswer.p50 - tagOnly.fromAnswer.p50),
    floor,
  };
  ctx.log(`7 digest: ${manifestRequests} manifest requests for ${promotions} promotions; p50 ${tagOnly.fromAnswer.p50} → ${pinned.fromAnswer.p50} ms (HEAD floor ${floor.p50} ms)`);
  return result;
}

export function digestTables(r: DigestResult): string {
  const row = (name: string, s: SequentialResult) => [name, String(s.runs), fmt(s.fromAnswer.p50), fmt(s.fromAnswer.p90), fmt(s.fromAnswer.p99), `cold ${fmt(s.coldMs)} ms; lost ${s.lost}`];
  return [
    markdownTable(
      ['what (202 → commit on the remote)', 'runs', 'p50 ms', 'p90 ms', 'p99 ms', 'note'],
      [row('hoist, pin: tag', r.tagOnly), row('hoist, pin: digest', r.pinned), ['floor: one manifest HEAD (bench → registry)', String(r.floor.n), fmt(r.floor.p50), fmt(r.floor.p90), fmt(r.floor.p99), r.registry]],
      [false, true, true, true, true, false],
    ),
    '',
    markdownTable(
      ['figure', 'value', 'goal'],
      [
        ['registry requests per promotion and app', `${fmt(r.requestsPerPromotion, 2)} (${r.manifestRequests} for ${r.promotions})`, '≤ 1'],
        ['p50 added by pin: digest', `${fmt(r.addedP50Ms)} ms`, `floor: one HEAD, p50 ${fmt(r.floor.p50)} ms`],
      ],
      [false, true, false],
    ),
  ].join('\n');
}

export function digestGoals(r: DigestResult | undefined): Goal[] {
  if (!r) return [];
  return [
    {
      scenario: '7 digest',
      goal: 'at most one registry round trip per promotion and app',
      measured: `${fmt(r.requestsPerPromotion, 2)} (${r.manifestRequests} manifest requests for ${r.promotions} promotions); p50 +${fmt(r.addedP50Ms)} ms over pin: tag (one HEAD: ${fmt(r.floor.p50)} ms)`,
      met: r.promotions > 0 && r.requestsPerPromotion <= 1,
    },
  ];
}
