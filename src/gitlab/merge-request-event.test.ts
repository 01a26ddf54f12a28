import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mergeRequestEventSchema, toMergeRequestChange } from './merge-request-event.js';

const sample = JSON.parse(readFileSync(new URL('../../test/fixtures/gitlab/merge-request-event.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const attrs = sample.object_attributes as Record<string, unknown>;

describe('GitLab Merge Request Hook', () => {
  it("reads GitLab's documented example", () => {
    const change = toMergeRequestChange(mergeRequestEventSchema.parse(sample));
    expect(change).toEqual({
      project: 'gitlabhq/gitlab-test',
      projectId: 1,
      iid: 1,
      state: 'opened',
      action: 'open',
      sourceBranch: 'ms-viewport',
      targetBranch: 'master',
      mergeCommitSha: undefined,
    });
  });

  it('carries the merge commit of a merged merge request', () => {
    const merged = { ...sample, object_attributes: { ...attrs, state: 'merged', action: 'merge', merge_commit_sha: 'c0ffee'.padEnd(40, '0') } };
    expect(toMergeRequestChange(mergeRequestEventSchema.parse(merged))).toMatchObject({ state: 'merged', action: 'merge', mergeCommitSha: 'c0ffee'.padEnd(40, '0') });
  });

  it('keeps fields it does not model and tolerates a missing action or a null merge commit', () => {
    const parsed = mergeRequestEventSchema.parse({ ...sample, object_attributes: { ...attrs, action: undefined, merge_commit_sha: null } });
    expect(parsed.object_attributes).toHaveProperty('title', 'MS-Viewport');
    expect(parsed).toHaveProperty('changes');
    expect(toMergeRequestChange(parsed)).toMatchObject({ action: undefined, mergeCommitSha: undefined });
  });

  it('refuses other hooks and payloads without what Hoist needs', () => {
    expect(mergeRequestEventSchema.safeParse({ ...sample, object_kind: 'pipeline' }).success).toBe(false);
    expect(mergeRequestEventSchema.safeParse({ ...sample, project: { id: 1 } }).success).toBe(false);
    const { iid: _iid, ...withoutIid } = attrs;
    expect(mergeRequestEventSchema.safeParse({ ...sample, object_attributes: withoutIid }).success).toBe(false);
  });
});
