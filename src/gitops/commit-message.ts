import type { ImageEdit, LandedGroup } from '../domain/ports.js';

type Landed = Pick<ImageEdit, 'app' | 'env' | 'tag' | 'promotionId' | 'source' | 'requestedBy' | 'approvedBy' | 'digest'>;

/** Trailer values must stay on one line or git would read the rest as body text. */
function oneLine(value: string): string {
  return value.replace(/[\r\n]+/g, ' ').trim();
}

function sourceText(source: Landed['source']): string {
  if (source.kind === 'pipeline') return oneLine(source.url) || `${source.project} pipeline ${source.pipelineId}`;
  return oneLine(source.url ?? '') || source.kind;
}

/**
 * The five trailers every promotion carries (the spine's contract, in this order), then the manifest digest when the
 * promotion resolved one (pin: digest, verifyTag), then — for promotions people asked for — its kind, who asked and
 * who approved.
 */
function trailerGroup(edit: Landed): string[] {
  const lines = [
    `Hoist-App: ${oneLine(edit.app)}`,
    `Hoist-Env: ${oneLine(edit.env)}`,
    `Hoist-Tag: ${oneLine(edit.tag)}`,
    `Hoist-Promotion: ${oneLine(edit.promotionId)}`,
    `Hoist-Source: ${sourceText(edit.source)}`,
  ];
  if (edit.digest) lines.push(`Hoist-Digest: ${oneLine(edit.digest)}`);
  if (edit.source.kind !== 'pipeline') lines.push(`Hoist-Kind: ${edit.source.kind}`);
  if (edit.requestedBy) lines.push(`Hoist-Requested-By: ${oneLine(edit.requestedBy)}`);
  for (const approver of edit.approvedBy ?? []) lines.push(`Hoist-Approved-By: ${oneLine(approver)}`);
  return lines;
}

/**
 * `promote <app> to <env>: <tag>` for one image (`rollback <app> in <env> to <tag>` for a rollback); for
 * several, a subject that says how many and a body line each. The trailer group repeats once per image,
 * in the same order as the body.
 */
export function buildCommitMessage(edits: readonly Landed[]): string {
  if (edits.length === 0) throw new Error('buildCommitMessage needs at least one edit');
  const [first] = edits;
  if (edits.length === 1 && first) {
    const subject = first.source.kind === 'rollback' ? `rollback ${first.app} in ${first.env} to ${first.tag}` : `promote ${first.app} to ${first.env}: ${first.tag}`;
    const why = first.source.kind === 'rollback' && first.source.why ? ` (${oneLine(first.source.why)})` : '';
    const body = first.source.kind === 'rollback' ? `\n\nRollback requested by ${first.requestedBy ?? 'unknown'}${why}: a new commit; history is not rewritten.` : '';
    return `${subject}${body}\n\n${trailerGroup(first).join('\n')}\n`;
  }
  const envs = [...new Set(edits.map((e) => e.env))];
  const subject = `promote ${edits.length} images to ${envs.join(', ')}`;
  const body = edits.map((e) => `- ${e.source.kind === 'rollback' ? 'rollback ' : ''}${e.app} to ${e.env}: ${e.tag}`).join('\n');
  return `${subject}\n\n${body}\n\n${edits.flatMap(trailerGroup).join('\n')}\n`;
}

export type TrailerGroup = LandedGroup;

const FIELDS: Record<string, Exclude<keyof TrailerGroup, 'approvedBy'>> = {
  'Hoist-App': 'app',
  'Hoist-Env': 'env',
  'Hoist-Tag': 'tag',
  'Hoist-Promotion': 'promotion',
  'Hoist-Source': 'source',
  'Hoist-Digest': 'digest',
  'Hoist-Kind': 'kind',
  'Hoist-Requested-By': 'requestedBy',
};

/** Reads the trailer groups back from a commit message; each `Hoist-App` starts a new group. */
export function parseTrailerGroups(message: string): TrailerGroup[] {
  const groups: TrailerGroup[] = [];
  for (const line of message.split('\n')) {
    const match = /^(Hoist-[A-Za-z-]+): (.*)$/.exec(line.trimEnd());
    if (!match) continue;
    const [, key = '', value = ''] = match;
    if (key === 'Hoist-App') groups.push({ app: '', env: '', tag: '', promotion: '', source: '', kind: 'pipeline', requestedBy: '', approvedBy: [] });
    const current = groups[groups.length - 1];
    if (!current) continue;
    if (key === 'Hoist-Approved-By') current.approvedBy.push(value);
    else if (FIELDS[key]) current[FIELDS[key]] = value;
  }
  return groups;
}
