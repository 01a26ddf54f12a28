import { TERMINAL_STATES } from '../domain/types.js';
import { HoistError } from '../errors.js';
import type { PromotionView } from '../service/promotion-service.js';
import type { HoistClient } from './client.js';

/** `web:v101 → prod`, or `web:v1, api:v2 → prod` for a release train. */
export function subjectOf(view: PromotionView): string {
  const apps = view.apps.length > 0 ? view.apps : [{ app: view.app, tag: view.tag }];
  return `${apps.map((a) => `${a.app}:${a.tag}`).join(', ')} → ${view.env}`;
}

const approvalsText = (view: PromotionView) => (view.approvals ? `${view.approvals.given.length} of ${view.approvals.required} approvals` : undefined);

/** The state with what it is about: who must approve, which gates hold it, the commit, the reason it ended. */
export function stateText(view: PromotionView): string {
  const why = view.error ?? view.reason;
  switch (view.state) {
    case 'awaiting-approval':
      return `awaiting-approval (${[approvalsText(view), view.requestedBy ? `requested by ${view.requestedBy}` : undefined].filter(Boolean).join(', ')})`;
    case 'waiting': {
      const held = (view.gates ?? []).filter((g) => g.status === 'waiting').map((g) => g.gate);
      return `waiting (${view.gates === undefined ? 'gates not checked yet' : held.length > 0 ? `gates: ${held.join(', ')}` : 'gates passed'})`;
    }
    case 'committed':
      return `committed${view.commit ? ` ${view.commit.slice(0, 12)}` : ''}`;
    case 'awaiting-merge':
      return `awaiting-merge${view.mergeRequest ? `: merge request !${view.mergeRequest.iid} ${view.mergeRequest.url}` : ''}`;
    case 'degraded':
      return `degraded${why ? `: ${why}` : ''}${view.rolledBackBy ? ` (rolled back by ${view.rolledBackBy})` : ''}`;
    case 'failed':
    case 'cancelled':
    case 'superseded':
    case 'skipped':
      return `${view.state}${why ? `: ${why}` : ''}`;
    default:
      return view.state;
  }
}

/** What changed between two reads of a promotion, as lines for a person (the first read says everything). */
export function describeChanges(previous: PromotionView | undefined, next: PromotionView): string[] {
  const lines: string[] = [];
  if (previous === undefined) lines.push(`${next.id}  ${subjectOf(next)}  ${stateText(next)}`);
  const before = new Map((previous?.gates ?? []).map((g) => [g.gate, g.status]));
  for (const gate of next.gates ?? []) {
    // A soak's countdown changes at every check: only a gate that opens or closes is news.
    if (before.get(gate.gate) !== gate.status) lines.push(`gate ${gate.gate}: ${gate.status} (${gate.reason})`);
  }
  const given = next.approvals?.given ?? [];
  const required = next.approvals?.required ?? given.length;
  if (previous === undefined) {
    if (given.length > 0) lines.push(`approved by ${given.map((a) => a.by).join(', ')} (${given.length} of ${required})`);
  } else {
    const seen = new Set((previous.approvals?.given ?? []).map((a) => a.by));
    given.forEach((approval, i) => {
      if (!seen.has(approval.by)) lines.push(`approved by ${approval.by} (${i + 1} of ${required})`);
    });
  }
  if (previous !== undefined && previous.state !== next.state) lines.push(stateText(next));
  return lines;
}

/** For the progress line: what the promotion waits for right now. */
export function waitingFor(view: PromotionView): string {
  const parts = [`${subjectOf(view)}: ${view.state}`];
  if (view.state === 'awaiting-approval' && view.approvals) parts.push(`${view.approvals.missing} more approval${view.approvals.missing === 1 ? '' : 's'} needed`);
  for (const gate of view.gates ?? []) if (gate.status === 'waiting') parts.push(`${gate.gate}: ${gate.reason}`);
  return parts.join(' · ');
}

export function isFinal(view: PromotionView): boolean {
  return TERMINAL_STATES.has(view.state);
}

/**
 * How a finished promotion ends the command: committed is done; skipped had nothing to do (also done); failed,
 * cancelled, superseded and degraded did not land what was asked, so a pipeline stage gated on it must stop.
 */
export function outcomeOf(view: PromotionView): { code: 0 | 1; note?: string } {
  if (view.state === 'committed') return { code: 0 };
  if (view.state === 'skipped') return { code: 0, note: `nothing to do: ${view.reason ?? view.error ?? 'skipped'}` };
  return { code: 1, note: `promotion ${view.id} ${stateText(view)}` };
}

/**
 * Follows one promotion to its end over the events stream: it is read again on each of its events, on each
 * (re)connection (events may have been missed in between) and on each keep-alive (a last safety net), and
 * `onChange` hears every read that differs from the one before.
 */
export async function followPromotion(
  client: HoistClient,
  id: string,
  options: { onChange: (view: PromotionView, previous: PromotionView | undefined) => void; signal: AbortSignal },
): Promise<PromotionView> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal.addEventListener('abort', onAbort, { once: true });
  const stream = client.events(stop.signal);
  let view: PromotionView | undefined;
  try {
    for (;;) {
      const { value: item, done } = await stream.next();
      if (options.signal.aborted) throw new HoistError('internal', 'interrupted');
      if (done) throw new HoistError('unavailable', `the events stream of ${client.url} ended`);
      if (item.kind === 'event') {
        if (item.event !== 'promotion' && item.event !== 'reset') continue;
        if (item.event === 'promotion' && eventPromotionId(item.data) !== id) continue;
      }
      const next = await client.promotion(id);
      if (view === undefined || JSON.stringify(view) !== JSON.stringify(next)) options.onChange(next, view);
      view = next;
      if (isFinal(next)) return next;
    }
  } finally {
    options.signal.removeEventListener('abort', onAbort);
    stop.abort();
    await stream.return(undefined);
  }
}

function eventPromotionId(data: string): string | undefined {
  try {
    const parsed = JSON.parse(data) as { id?: unknown };
    return typeof parsed.id === 'string' ? parsed.id : undefined;
  } catch {
    return undefined;
  }
}
