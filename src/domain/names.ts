/**
 * The shapes of the names people and systems hand to Hoist. One definition, used by the config schema, the
 * API, the chat grammar and the webhooks, so a name the config could never hold is refused the same way
 * everywhere, at the edge, with the field and the limit named.
 */

/** App and environment names end up in paths, branch names, trailers and chat commands: keep them boring. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const MAX_NAME_LENGTH = 63;

/** Ids Hoist makes are `p-` and 24 hex digits; the bound leaves room without letting a request carry a book. */
export const MAX_PROMOTION_ID_LENGTH = 100;

/** A person's name as a trusted front end (X-Hoist-User) or chatops.users gives it. */
export const MAX_USER_NAME_LENGTH = 100;

/** A person's name as rbac, approvers and chatops.users write it (a sign-in's username, X-Hoist-User). */
export const isUserName = (name: string): boolean => name.length <= MAX_USER_NAME_LENGTH && /^[A-Za-z0-9._@-]+$/.test(name);

export function isValidName(value: string): boolean {
  return NAME_PATTERN.test(value);
}
