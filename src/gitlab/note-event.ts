import { z } from 'zod';

/**
 * The fields of a GitLab "Note Hook" (a comment) that Hoist uses to run `/hoist …` from comments on merge requests and
 * commits. Shape from GitLab's webhook events docs (doc/user/project/integrations/webhook_events.md, "Comment events");
 * see test/fixtures/gitlab/note-*-event.json. `discussion_id` is not in the docs' examples, but GitLab sends it (a safe
 * hook attribute of lib/gitlab/hook_data/note_builder.rb). Everything else in the payload is allowed and ignored.
 */
export const noteEventSchema = z
  .object({
    object_kind: z.literal('note'),
    user: z.object({ id: z.number().int(), username: z.string().min(1).max(255) }).loose(),
    project: z.object({ id: z.number().int().positive(), path_with_namespace: z.string().min(1).max(1_000) }).loose(),
    object_attributes: z
      .object({
        id: z.number().int().positive(),
        // The comment's text; long ones are cut to the first line before they are parsed, never echoed whole.
        note: z.string(),
        noteable_type: z.string(),
        action: z.string().nullish(),
        system: z.boolean().nullish(),
        commit_id: z.string().nullish(),
        discussion_id: z.string().regex(/^[0-9a-f]{1,64}$/, 'must be a discussion id').nullish(),
      })
      .loose(),
    merge_request: z.object({ iid: z.number().int().positive(), source_project_id: z.number().int().nullish() }).loose().nullish(),
    commit: z.object({ id: z.string() }).loose().nullish(),
  })
  .loose();

export type NoteEvent = z.output<typeof noteEventSchema>;

/** Where a comment was made: the thing it is on, so the answer goes to the same place. */
export type NoteTarget =
  | { kind: 'merge-request'; project: string; iid: number; discussionId?: string | undefined }
  | { kind: 'commit'; project: string; sha: string; discussionId?: string | undefined };

/** A comment in the terms the rest of Hoist speaks; undefined target: not on a merge request or a commit. */
export interface NoteComment {
  noteId: number;
  projectId: number;
  project: string;
  author: { id: number; username: string };
  /** `create` or `update` (GitLab 16.11+); absent on older GitLab. */
  action?: string | undefined;
  system: boolean;
  text: string;
  target: NoteTarget | undefined;
}

const SHA = /^[0-9a-f]{7,64}$/;

export function toNoteComment(event: NoteEvent): NoteComment {
  const attrs = event.object_attributes;
  const project = event.project.path_with_namespace;
  const discussionId = attrs.discussion_id ?? undefined;
  let target: NoteTarget | undefined;
  if (attrs.noteable_type === 'MergeRequest' && event.merge_request) {
    target = { kind: 'merge-request', project, iid: event.merge_request.iid, discussionId };
  } else if (attrs.noteable_type === 'Commit') {
    const sha = attrs.commit_id || event.commit?.id;
    if (sha && SHA.test(sha)) target = { kind: 'commit', project, sha, discussionId };
  }
  return {
    noteId: attrs.id,
    projectId: event.project.id,
    project,
    author: { id: event.user.id, username: event.user.username },
    action: attrs.action ?? undefined,
    system: attrs.system === true,
    text: attrs.note,
    target,
  };
}
