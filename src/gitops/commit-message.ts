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
