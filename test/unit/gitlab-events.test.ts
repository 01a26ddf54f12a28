import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decideBuild, type BuildFacts } from '../../src/domain/policy.js';
import type { App, Environment } from '../../src/domain/types.js';
import { HoistError } from '../../src/errors.js';
import { pipelineEventSchema, toPipelineBuild } from '../../src/gitlab/events.js';
import { refSlug, renderTag, templateVariables } from '../../src/gitlab/tag-template.js';

const sample = JSON.parse(await readFile(join(import.meta.dirname, '../fixtures/gitlab/pipeline-event.json'), 'utf8')) as Record<string, unknown>;

describe('pipeline events', () => {
  it("parses GitLab's documented sample", () => {
    const build = toPipelineBuild(pipelineEventSchema.parse(sample));
    expect(build).toEqual({
      project: 'gitlab-org/gitlab-test',
      pipelineId: 31,
      pipelineIid: 3,
      ref: 'master',
      isTag: false,
      sha: 'bcbb5ec396a2c0f828686f14fac9b80b780504f2',
      status: 'success',
      isMergeRequest: true,
      defaultBranch: 'master',
      url: 'http://example.com/gitlab-org/gitlab-test/-/pipelines/31',
      variables: { NESTOR_PROD_ENVIRONMENT: 'us-west-1' },
      // The sample's commit.timestamp, 2016-08-12T17:23:21+02:00.
      commitTimestamp: '2016-08-12T15:23:21.000Z',
    });
  });

  it('strips credentials from the pipeline URL and refuses other schemes', () => {
    const attrs = sample.object_attributes as Record<string, unknown>;
    const withCreds = toPipelineBuild(pipelineEventSchema.parse({ ...sample, object_attributes: { ...attrs, url: 'https://user:pw@gitlab.example.com/p/-/pipelines/1' } }));
    expect(withCreds.url).toBe('https://gitlab.example.com/p/-/pipelines/1');
    const js = toPipelineBuild(pipelineEventSchema.parse({ ...sample, object_attributes: { ...attrs, url: 'javascript:alert(1)' } }));
    expect(js.url).toBe('');
  });

  it('rejects payloads with missing or mistyped fields', () => {
    expect(pipelineEventSchema.safeParse({ ...sample, object_attributes: { ...(sample.object_attributes as object), id: 'x' } }).success).toBe(false);
    expect(pipelineEventSchema.safeParse({ ...sample, project: null }).success).toBe(false);
    expect(pipelineEventSchema.safeParse({ ...sample, object_kind: 'build' }).success).toBe(false);
    expect(pipelineEventSchema.safeParse({ ...sample, object_attributes: { ...(sample.object_attributes as object), sha: 'not a sha\n' } }).success).toBe(false);
  });
});

describe('tag templates', () => {
  const build = { ...toPipelineBuild(pipelineEventSchema.parse(sample)), isMergeRequest: false, ref: 'Feature/ABC_1' };
  const vars = templateVariables(build);

  it.each([
    ['$CI_COMMIT_SHORT_SHA', 'bcbb5ec3'],
    ['${CI_COMMIT_SHORT_SHA}-${CI_PIPELINE_ID}', 'bcbb5ec3-31'],
    ['$CI_COMMIT_SHA', 'bcbb5ec396a2c0f828686f14fac9b80b780504f2'],
    ['$CI_COMMIT_REF_SLUG-$CI_PIPELINE_IID', 'feature-abc-1-3'],
    ['v$CI_PIPELINE_ID', 'v31'],
    ['${NESTOR_PROD_ENVIRONMENT}', 'us-west-1'],
    ['release-$CI_COMMIT_REF_NAME', undefined],
    ['$CI_COMMIT_TAG', undefined],
    ['$UNKNOWN', undefined],
    ['a$$b', undefined],
  ])('%s → %s', (template, expected) => {
    if (expected === undefined) {
      expect(() => renderTag(template, vars)).toThrow(HoistError);
    } else {
      expect(renderTag(template, vars)).toBe(expected);
    }
  });

  it('fills CI_COMMIT_TAG for tag pipelines, and pipeline variables cannot override predefined ones', () => {
    const tagged = templateVariables({ ...build, isTag: true, ref: 'v1.2.3', variables: { CI_COMMIT_SHA: 'evil' } });
    expect(renderTag('$CI_COMMIT_TAG', tagged)).toBe('v1.2.3');
    expect(renderTag('$CI_COMMIT_SHA', tagged)).toBe(build.sha);
  });

  it('rejects results that are not OCI tags, including injection attempts', () => {
    for (const value of ['a\nb', 'a"b', 'a#b', 'a: b', '&anchor', '!!str', '-lead', 'x'.repeat(129), 'tаg' /* Cyrillic а */]) {
      expect(() => renderTag('$X', { X: value })).toThrow(/not a valid image tag/);
    }
  });

  it("slugs refs like GitLab's CI_COMMIT_REF_SLUG", () => {
    expect(refSlug('Feature/Über_Cool--Thing')).toBe('feature--ber-cool--thing');
    expect(refSlug(`-${'a'.repeat(80)}`)).toBe('a'.repeat(62));
  });
});

describe('which pipelines promote', () => {
  const apps: App[] = [
    { name: 'web', project: 'group/web', image: 'r/web', tag: '$CI_COMMIT_SHORT_SHA', mergeRequestPipelines: false },
    { name: 'api', project: 'group/mono', image: 'r/api', tag: '$CI_COMMIT_SHORT_SHA', branches: ['main', 'release/*'], mergeRequestPipelines: false },
    { name: 'ui', project: 'group/mono', image: 'r/ui', tag: '$CI_COMMIT_SHORT_SHA', branches: ['main'], mergeRequestPipelines: false },
  ];
  const envs: Environment[] = [
    { name: 'qa', path: 'o/qa', promotion: 'auto', pending: 'supersede', write: 'push', autoRollback: false, target: { repo: 'default', branch: 'main' } },
    { name: 'live', path: 'o/live', promotion: 'manual', from: 'qa', pending: 'supersede', write: 'push', autoRollback: false, target: { repo: 'default', branch: 'main' } },
    { name: 'canary', path: 'o/canary', promotion: 'auto', from: 'qa', pending: 'supersede', write: 'push', autoRollback: false, target: { repo: 'default', branch: 'main' } },
  ];
  const facts = (over: Partial<BuildFacts>): BuildFacts => ({ project: 'group/web', ref: 'main', isTag: false, isMergeRequest: false, status: 'success', defaultBranch: 'main', ...over });

  it('promotes to every auto environment, whatever they are called', () => {
    const d = decideBuild(facts({}), apps, envs);
    expect(d.kind === 'promote' && [d.apps.map((a) => a.name), d.environments.map((e) => e.name)]).toEqual([['web'], ['qa', 'canary']]);
  });

  it('uses the default branch when an app names none, and wildcards when it does', () => {
    expect(decideBuild(facts({ ref: 'develop' }), apps, envs)).toEqual({ kind: 'ignore', reason: 'branch "develop" is not configured for project "group/web"' });
    const release = decideBuild(facts({ project: 'group/mono', ref: 'release/1.2' }), apps, envs);
    expect(release.kind === 'promote' && release.apps.map((a) => a.name)).toEqual(['api']);
    const main = decideBuild(facts({ project: 'group/mono' }), apps, envs);
    expect(main.kind === 'promote' && main.apps.map((a) => a.name)).toEqual(['api', 'ui']);
  });

  it('ignores unsuccessful, unknown, merge-request and tag pipelines by default', () => {
    expect(decideBuild(facts({ status: 'failed' }), apps, envs).kind).toBe('ignore');
    expect(decideBuild(facts({ project: 'x/y' }), apps, envs).kind).toBe('ignore');
    expect(decideBuild(facts({ isMergeRequest: true }), apps, envs)).toMatchObject({ kind: 'ignore', reason: expect.stringMatching(/merge request/) });
    expect(decideBuild(facts({ isTag: true, ref: 'v1' }), apps, envs).kind).toBe('ignore');
    const optIn = decideBuild(facts({ isMergeRequest: true }), [{ ...apps[0]!, mergeRequestPipelines: true }], envs);
    expect(optIn.kind).toBe('promote');
  });
});
