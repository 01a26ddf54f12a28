import { z } from 'zod';

/**
 * The fields of a GitLab "Pipeline Hook" that Hoist uses. Shape from GitLab's webhook events docs
 * (doc/user/project/integrations/webhook_events.md, "Pipeline events"); see shared/fixtures/gitlab.
 * Everything else in the payload is allowed and ignored.
 */
export const pipelineEventSchema = z.object({
  object_kind: z.literal('pipeline'),
  object_attributes: z.object({
    id: z.number().int().positive(),
    iid: z.number().int().nonnegative().nullish(),
    ref: z.string().min(1),
    tag: z.boolean().nullish(),
    sha: z.string().regex(/^[0-9a-f]{7,64}$/, 'must be a commit SHA'),
    source: z.string().nullish(),
    status: z.string().min(1),
    url: z.string().nullish(),
    variables: z.array(z.object({ key: z.string(), value: z.string().nullish() })).nullish(),
  }),
  merge_request: z.object({ iid: z.number().nullish() }).passthrough().nullish(),
  /** The pipeline's commit; its `timestamp` starts the DORA lead time. */
  commit: z.object({ timestamp: z.string().max(64).nullish() }).passthrough().nullish(),
  project: z.object({
    id: z.number().int().nullish(),
    path_with_namespace: z.string().min(1),
    default_branch: z.string().nullish(),
    web_url: z.string().nullish(),
  }),
});

export type PipelineEvent = z.output<typeof pipelineEventSchema>;

/** What a finished pipeline built, in the terms the rest of Hoist speaks. */
export interface PipelineBuild {
  project: string;
  pipelineId: number;
  pipelineIid: number | undefined;
  ref: string;
  isTag: boolean;
  sha: string;
  status: string;
  isMergeRequest: boolean;
  defaultBranch: string | undefined;
  url: string;
  variables: Readonly<Record<string, string>>;
  /** When the built commit was made (ISO 8601), if the hook said so in a form that parses. */
  commitTimestamp?: string | undefined;
}

/** Only http(s) URLs without credentials go into commit trailers. */
function safePipelineUrl(event: PipelineEvent): string {
  const raw = event.object_attributes.url ?? (event.project.web_url ? `${event.project.web_url}/-/pipelines/${event.object_attributes.id}` : '');
  try {
    const url = new URL(raw);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return '';
    url.username = '';
    url.password = '';
    return url.href;
  } catch {
    return '';
  }
}

/** GitLab writes `2016-08-12T17:23:21+02:00`; anything that does not parse is left out rather than guessed. */
function commitTime(raw: string | null | undefined): string | undefined {
  const t = raw ? Date.parse(raw) : Number.NaN;
  return Number.isFinite(t) ? new Date(t).toISOString() : undefined;
}

export function toPipelineBuild(event: PipelineEvent): PipelineBuild {
  const attrs = event.object_attributes;
  // No prototype: a pipeline variable may well be called __proto__.
  const variables: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const v of attrs.variables ?? []) variables[v.key] = v.value ?? '';
  return {
    project: event.project.path_with_namespace,
    pipelineId: attrs.id,
    pipelineIid: attrs.iid ?? undefined,
    ref: attrs.ref,
    isTag: attrs.tag === true,
    sha: attrs.sha,
    status: attrs.status,
    isMergeRequest: attrs.source === 'merge_request_event' || (event.merge_request !== null && event.merge_request !== undefined),
    defaultBranch: event.project.default_branch ?? undefined,
    url: safePipelineUrl(event),
    variables,
    commitTimestamp: commitTime(event.commit?.timestamp),
  };
}
