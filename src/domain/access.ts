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

export type Verdict = { ok: true } | { ok: false; reason: string };

/** Does `user` appear in `members`, directly, as `*`, or through a `group:<name>`? */
export function isMember(user: string, members: readonly string[], groups: Readonly<Record<string, readonly string[]>>): boolean {
  return members.some((m) => m === '*' || m === user || (m.startsWith('group:') && (groups[m.slice(6)] ?? []).includes(user)));
}

/** Without an rbac section everyone may promote; with one, the environment's list (else `*`'s) decides. */
export function mayPromote(rbac: Rbac | undefined, env: string, user: string): Verdict {
  if (!rbac) return { ok: true };
  const members = rbac.promote[env] ?? rbac.promote['*'];
  if (!members) return { ok: false, reason: `rbac.promote has no entry for ${env} (nor "*")` };
  return isMember(user, members, rbac.groups) ? { ok: true } : { ok: false, reason: `${user} is not allowed to promote to ${env} (rbac.promote.${rbac.promote[env] ? env : '"*"'})` };
}

export function mayApprove(
  policy: ApprovalPolicy,
  groups: Readonly<Record<string, readonly string[]>>,
  request: { requestedBy: string | undefined; approvedBy: readonly string[] },
  user: string,
): Verdict {
  if (!isMember(user, policy.approvers, groups)) return { ok: false, reason: `${user} is not among the approvers (${policy.approvers.join(', ')})` };
  if (!policy.allowSelfApproval && request.requestedBy === user) return { ok: false, reason: `${user} requested this promotion and cannot approve it (allowSelfApproval is false)` };
  if (request.approvedBy.includes(user)) return { ok: false, reason: `${user} has already approved; one person counts once` };
  return { ok: true };
}
