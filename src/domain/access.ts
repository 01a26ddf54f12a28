/** Who may do what, pure: rbac for promotions, approver lists and self-approval for approvals. */

export interface Rbac {
  /** Per environment name (or `*`), the people and `group:<name>`s allowed to promote there; `*` is anyone. */
  promote: Readonly<Record<string, readonly string[]>>;
  groups: Readonly<Record<string, readonly string[]>>;
}

export interface ApprovalPolicy {
  required: number;
  approvers: readonly string[];
  allowSelfApproval: boolean;
}

/** A person as rbac sees them: the name, and the groups their identity provider says they are in. */
export interface Person {
  name: string;
  /** Full group paths from the sign-in (GitLab: `platform/release-managers`); none for chat and robot users. */
  groups?: readonly string[] | undefined;
}

export type Verdict = { ok: true } | { ok: false; reason: string };

/**
 * Is the person in `members`: by name, as `*`, or through `group:<name>` — a group of `rbac.groups` that lists
 * them, or a group their sign-in put them in?
 */
export function isMember(person: Person, members: readonly string[], groups: Readonly<Record<string, readonly string[]>>): boolean {
  return members.some((m) => {
    if (m === '*' || m === person.name) return true;
    if (!m.startsWith('group:')) return false;
    const group = m.slice(6);
    return (Object.hasOwn(groups, group) && (groups[group] ?? []).includes(person.name)) || (person.groups ?? []).includes(group);
  });
}

/** Without an rbac section everyone may promote; with one, the environment's list (else `*`'s) decides. */
export function mayPromote(rbac: Rbac | undefined, env: string, person: Person): Verdict {
  if (!rbac) return { ok: true };
  const members = rbac.promote[env] ?? rbac.promote['*'];
  if (!members) return { ok: false, reason: `rbac.promote has no entry for ${env} (nor "*")` };
  return isMember(person, members, rbac.groups) ? { ok: true } : { ok: false, reason: `${person.name} is not allowed to promote to ${env} (rbac.promote.${rbac.promote[env] ? env : '"*"'})` };
}

export function mayApprove(
  policy: ApprovalPolicy,
  groups: Readonly<Record<string, readonly string[]>>,
  request: { requestedBy: string | undefined; approvedBy: readonly string[] },
  person: Person,
): Verdict {
  const user = person.name;
  if (!isMember(person, policy.approvers, groups)) return { ok: false, reason: `${user} is not among the approvers (${policy.approvers.join(', ')})` };
  if (!policy.allowSelfApproval && request.requestedBy === user) return { ok: false, reason: `${user} requested this promotion and cannot approve it (allowSelfApproval is false)` };
  if (request.approvedBy.includes(user)) return { ok: false, reason: `${user} has already approved; one person counts once` };
  return { ok: true };
}
