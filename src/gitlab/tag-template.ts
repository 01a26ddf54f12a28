import { HoistError } from '../errors.js';
import { isValidTag, TAG_RULE } from '../kustomize/image-ref.js';
import type { PipelineBuild } from './events.js';

/** GitLab's CI_COMMIT_REF_SLUG: lowercased, [^a-z0-9] → '-', at most 63 bytes, no leading/trailing '-'. */
export function refSlug(ref: string): string {
  return ref
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '-')
    .slice(0, 63)
    .replace(/^-+|-+$/g, '');
}

/**
 * The variables a tag template may use: GitLab's predefined names as the pipeline saw them, with the
 * pipeline's own `variables` first so predefined values win (as in GitLab, where they cannot be overridden).
 */
export function templateVariables(build: PipelineBuild): Record<string, string> {
  return {
    ...build.variables,
    CI_COMMIT_SHA: build.sha,
    CI_COMMIT_SHORT_SHA: build.sha.slice(0, 8),
    CI_COMMIT_REF_NAME: build.ref,
    CI_COMMIT_REF_SLUG: refSlug(build.ref),
    ...(build.isTag ? { CI_COMMIT_TAG: build.ref } : {}),
    ...(build.isTag || build.isMergeRequest ? {} : { CI_COMMIT_BRANCH: build.ref }),
    CI_PIPELINE_ID: String(build.pipelineId),
    ...(build.pipelineIid !== undefined ? { CI_PIPELINE_IID: String(build.pipelineIid) } : {}),
    CI_PROJECT_PATH: build.project,
  };
}

/**
 * Expands `$VAR` and `${VAR}` the way a `.gitlab-ci.yml` script line would (unset → empty, `$$` → `$`),
 * then insists the result is a valid OCI tag.
 */
export function renderTag(template: string, variables: Readonly<Record<string, string>>): string {
  const tag = template.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (match, braced?: string, bare?: string) => {
    if (match === '$$') return '$';
    const name = (braced ?? bare) as string;
    // Own properties only: `$constructor` or `$toString` are unset variables, not Object's methods.
    return Object.hasOwn(variables, name) ? (variables[name] ?? '') : '';
  });
  if (!isValidTag(tag)) {
    throw new HoistError('template_invalid', `tag template "${template}" gave ${JSON.stringify(tag)}, which is not a valid image tag (${TAG_RULE})`, {
      retryable: false,
      details: { template, tag },
    });
  }
  return tag;
}
