import type { ImageEdit } from '../domain/ports.js';

type Landed = Pick<ImageEdit, 'app' | 'env' | 'tag' | 'promotionId' | 'source'>;

/** Trailer values must stay on one line or git would read the rest as body text. */
function oneLine(value: string): string {
  return value.replace(/[\r\n]+/g, ' ').trim();
}

function trailerGroup(edit: Landed): string[] {
  return [
    `Hoist-App: ${oneLine(edit.app)}`,
    `Hoist-Env: ${oneLine(edit.env)}`,
    `Hoist-Tag: ${oneLine(edit.tag)}`,
    `Hoist-Promotion: ${oneLine(edit.promotionId)}`,
    `Hoist-Source: ${oneLine(edit.source.url) || `${edit.source.project} pipeline ${edit.source.pipelineId}`}`,
  ];
}

/**
 * `promote <app> to <env>: <tag>` for one promotion; for several, a subject that says how many and a
 * body line each. The trailer group repeats once per promotion, in the same order as the body.
 */
export function buildCommitMessage(edits: readonly Landed[]): string {
  if (edits.length === 0) throw new Error('buildCommitMessage needs at least one edit');
  const [first] = edits;
  if (edits.length === 1 && first) {
    return `promote ${first.app} to ${first.env}: ${first.tag}\n\n${trailerGroup(first).join('\n')}\n`;
  }
  const envs = [...new Set(edits.map((e) => e.env))];
  const subject = `promote ${edits.length} images to ${envs.join(', ')}`;
  const body = edits.map((e) => `- ${e.app} to ${e.env}: ${e.tag}`).join('\n');
  return `${subject}\n\n${body}\n\n${edits.flatMap(trailerGroup).join('\n')}\n`;
}

export interface TrailerGroup {
  app: string;
  env: string;
  tag: string;
  promotion: string;
  source: string;
}

const FIELDS: Record<string, keyof TrailerGroup> = {
  'Hoist-App': 'app',
  'Hoist-Env': 'env',
  'Hoist-Tag': 'tag',
  'Hoist-Promotion': 'promotion',
  'Hoist-Source': 'source',
};

/** Reads the trailer groups back from a commit message; each `Hoist-App` starts a new group. */
export function parseTrailerGroups(message: string): TrailerGroup[] {
  const groups: TrailerGroup[] = [];
  for (const line of message.split('\n')) {
    const match = /^(Hoist-[A-Za-z]+): (.*)$/.exec(line.trimEnd());
    const field = match ? FIELDS[match[1] as string] : undefined;
    if (!match || !field) continue;
    if (field === 'app') groups.push({ app: '', env: '', tag: '', promotion: '', source: '' });
    const current = groups[groups.length - 1];
    if (current) current[field] = match[2] as string;
  }
  return groups;
}
