/**
 * The board's markup, server-rendered with hono/jsx: every value from outside (tags, authors, commit subjects,
 * reasons) goes in as text or an attribute, which hono/jsx escapes; nothing here writes raw HTML. No inline
 * script and no style attribute either: the Content-Security-Policy forbids both.
 */
import type { Child, FC, PropsWithChildren } from 'hono/jsx';
import { formatRollout } from '../domain/rollout.js';
import type { DoraFigures } from '../domain/dora.js';
import { targetKey, type Environment, type PromotionState } from '../domain/types.js';
import type { ApiTokenService } from '../service/api-tokens.js';
import type { CellView, Overview } from '../service/overview.js';
import type { HistoryEntry, PromotionPreview, PromotionView } from '../service/promotion-service.js';
import { compactTime, diffLineKind, gateMoment, isoSeconds, shortTime, STATE_TEXT, timeLeft } from './format.js';

export type TokenInfo = Awaited<ReturnType<ApiTokenService['list']>>[number];

/** Who is looking at the page, and what the page needs to act for them. */
export interface Viewer {
  user: string;
  /** The session's CSRF token (empty for a bearer-token caller, who needs none). */
  csrf: string;
  demo: boolean;
}

export interface Flash {
  kind: 'ok' | 'error';
  message: string;
}

export interface LayoutProps {
  title: string;
  viewer?: Viewer | undefined;
  flash?: Flash | undefined;
  assets: { js: string; css: string };
  /** Where the board lives: its regions follow the events stream. */
  live?: boolean;
}

const Csrf: FC<{ viewer: Viewer }> = ({ viewer }) => (viewer.csrf ? <input type="hidden" name="_csrf" value={viewer.csrf} /> : null);

const Time: FC<{ at: string; class?: string; children?: Child }> = ({ at, children, ...rest }) => (
  <time datetime={isoSeconds(at)} class={rest.class}>
    {children ?? shortTime(at)}
  </time>
);

export const Layout: FC<PropsWithChildren<LayoutProps>> = ({ title, viewer, flash, assets, live, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      {viewer?.csrf ? <meta name="csrf-token" content={viewer.csrf} /> : null}
      <title>{`${title} · Hoist`}</title>
      <link rel="stylesheet" href={`/assets/board.css?v=${assets.css}`} />
      <script src={`/assets/board.js?v=${assets.js}`} defer></script>
    </head>
    <body data-live={live ? 'on' : undefined}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <nav aria-label="Hoist">
          <a href="/" class="brand">
            Hoist
          </a>{' '}
          <a href="/history">History</a> <a href="/dora">DORA</a> <a href="/tokens">Tokens</a>
        </nav>
        {viewer ? (
          <form method="post" action="/auth/logout" class="who">
            <span>
              Signed in as <b>{viewer.user}</b>
            </span>{' '}
            <Csrf viewer={viewer} />
            <button type="submit">Sign out</button>
          </form>
        ) : null}
      </header>
      {viewer?.demo ? (
        <p class="banner" role="note">
          Demo sign-in: anyone can be anyone here. Not for real use.
        </p>
      ) : null}
      <main id="main" tabindex={-1}>
        <div id="notice" role="status" class="notice">
          {flash?.kind === 'ok' ? flash.message : null}
        </div>
        <div id="alert" role="alert" class="alert">
          {flash?.kind === 'error' ? flash.message : null}
        </div>
        {children}
      </main>
      <dialog id="dialog" aria-labelledby="dialog-title"></dialog>
    </body>
  </html>
);

/** What happens after Confirm, in words, from the environment's policy. */
export function nextStep(env: Environment | undefined): string {
  if (!env) return '';
  const gates = env.gates;
  const gateWords = [
    gates?.soakMs !== undefined ? `soak ${timeLeft(gates.soakMs)}` : '',
    gates?.healthy ? 'healthy in the source environment' : '',
    gates?.window ? `window ${gates.window.text}` : '',
    gates?.freeze?.length ? `freezes ${gates.freeze.map((f) => f.text).join(', ')}` : '',
  ].filter(Boolean);
  const approvals = env.approvals ? `${env.approvals.required} approval${env.approvals.required === 1 ? '' : 's'} (from ${env.approvals.approvers.join(', ')})` : '';
  if (approvals && gateWords.length) return `needs ${approvals}, then waits for its gates (${gateWords.join('; ')}), then is committed`;
  if (approvals) return `needs ${approvals}, then is committed`;
  if (gateWords.length) return `waits for its gates (${gateWords.join('; ')}), then is committed`;
  return 'is committed at once';
}

const CellContent: FC<{ cell: CellView; from: string | null; pending: PromotionView | undefined; now: Date }> = ({ cell, from, pending, now }) => {
  const key = `${cell.app} ${cell.env}`;
  return (
    <td>
      {cell.tag === null ? <i>none</i> : <b>{cell.tag}</b>}
      {cell.digest ? <small>@{cell.digest.slice(0, 19)}</small> : null}{' '}
      {cell.since ? <Time at={cell.since}>{compactTime(cell.since, now)}</Time> : null} {cell.kind === 'outside' ? <span class="outside">outside change by {cell.by}</span> : cell.by}
      {cell.health ? <span class={cell.health.status === 'deployed' ? 'ok' : 'bad'}>{cell.health.status === 'deployed' ? ' ✓ synced, healthy' : ' ✗ degraded'}</span> : null}
      {cell.rollout ? <span class={cell.rollout.phase === 'Degraded' ? 'rollout bad' : 'rollout'}> {formatRollout(cell.rollout)}</span> : null}
      {cell.differs ? <em> ≠ {from}</em> : null}
      {pending ? (
        <span class="pend">
          {' '}
          → {pending.tag} {STATE_TEXT[pending.state]}
        </span>
      ) : null}
      {cell.differs || cell.since ? ' ' : null}
      {cell.differs ? (
        <button form="pf" name="c" value={key}>
          Promote
        </button>
      ) : null}
      {cell.since ? (
        <button name="c" value={key}>
          Rollback
        </button>
      ) : null}
      <RolloutButtons cell={cell} />
    </td>
  );
};

/** A Rollout on its way (paused, or between steps): its actions, posted through form #rof (the grid's own form is Rollback's). */
const RolloutButtons: FC<{ cell: CellView }> = ({ cell }) => {
  const r = cell.rollout;
  if (!r || !cell.promotion || !(r.paused || r.phase === 'Progressing' || r.phase === 'Paused')) return null;
  return (
    <>
      {' '}
      {r.paused ? (
        <button form="rof" name="rollout" value={`${cell.promotion} resume`}>
          Resume
        </button>
      ) : null}
      <button form="rof" name="rollout" value={`${cell.promotion} promote-full`}>
        Promote full
      </button>
      <button form="rof" name="rollout" value={`${cell.promotion} abort`}>
        Abort
      </button>
    </>
  );
};

/** The apps × environments grid: one column per environment in chain order, one row per app. */
export const Grid: FC<{ overview: Overview; environments: readonly Environment[]; now: Date }> = ({ overview, environments, now }) => {
  const envs = environments.map((e) => overview.environments.find((o) => o.name === e.name) ?? { name: e.name, from: e.from ?? null, promotion: e.promotion, path: e.path });
  const cells = new Map(overview.cells.map((c) => [`${c.app} ${c.env}`, c]));
  // Where each environment's overlay lives, shown only when the install writes to more than one repo or branch.
  const targets = new Map(environments.map((e) => [e.name, targetKey(e.target)]));
  const manyTargets = new Set(targets.values()).size > 1;
  const pending = new Map<string, PromotionView>();
  for (const p of overview.pending) for (const a of p.apps) pending.set(`${a.app} ${p.env}`, p);
  return (
    <div id="grid" class="grid">
      <form id="pf" method="get" action="/board/promote"></form>
      {/* The grid's own form is Rollback's; Promote buttons name theirs: fewer bytes in each of 800 cells. */}
      <form id="rf" method="get" action="/board/rollback" class="scroll" tabindex={0} role="group" aria-label="Environments, scrollable">
        <table>
          <caption>Environments</caption>
          <thead>
            <tr>
              <th scope="col">App</th>
              {envs.map((e) => (
                <th scope="col">
                  <a href={`/history?env=${encodeURIComponent(e.name)}`}>{e.name}</a> <small>{e.from ? `${e.promotion} from ${e.from}` : e.promotion}</small>
                  {manyTargets ? <small class="target"> {targets.get(e.name)}</small> : null}
                  {'error' in e && e.error ? <small class="bad"> ⚠ {e.error}</small> : null}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {overview.apps.map((a) => (
              <tr>
                <th scope="row">
                  <a href={`/history?app=${encodeURIComponent(a.name)}`}>{a.name}</a>
                </th>
                {envs.map((e) => {
                  const cell = cells.get(`${a.name} ${e.name}`);
                  return cell ? <CellContent cell={cell} from={e.from} pending={pending.get(`${a.name} ${e.name}`)} now={now} /> : <td></td>;
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </form>
      <p class="legend">
        Times in UTC. <em>≠ env</em>: that environment runs another tag (Promote takes it). ✓/✗: what Argo CD or the deploy reports said.
      </p>
    </div>
  );
};

const ActionForm: FC<{ action: string; id: string; label: string; viewer: Viewer; back: string }> = ({ action, id, label, viewer, back }) => (
  <form method="post" action={action} data-fetch="">
    <Csrf viewer={viewer} />
    <input type="hidden" name="id" value={id} />
    <input type="hidden" name="return" value={back} />
    <button type="submit">{label}</button>
  </form>
);

const whoAsked = (p: PromotionView, env: Environment | undefined): string => {
  if (p.requestedBy) return p.requestedBy;
  if (p.kind === 'gated') return `the chain (after ${env?.from ?? 'the source environment'})`;
  if (p.source?.kind === 'pipeline') return `pipeline${p.source.pipelineId ? ` #${p.source.pipelineId}` : ''}${p.source.project ? ` of ${p.source.project}` : ''}`;
  return p.kind;
};

const GateLine: FC<{ gate: NonNullable<PromotionView['gates']>[number]; now: Date }> = ({ gate, now }) => {
  const moment = gateMoment(gate);
  if (gate.status === 'passed') {
    return (
      <li>
        <b>{gate.gate}</b>: ✓ passed ({gate.reason})
      </li>
    );
  }
  return (
    <li>
      <b>{gate.gate}</b>: ⏳ waiting —{' '}
      {moment?.label === 'left' ? (
        <>
          <Time at={moment.at} class="countdown">
            {timeLeft(Date.parse(moment.at) - now.getTime())}
          </Time>{' '}
          left
        </>
      ) : moment?.label === 'opens' ? (
        <>
          closed, opens <Time at={moment.at} /> UTC
        </>
      ) : moment?.label === 'until' ? (
        <>
          frozen until <Time at={moment.at} /> UTC
        </>
      ) : (
        gate.reason
      )}
    </li>
  );
};

/** Every waiting and awaiting-approval promotion, with its gates, approvals and who asked. */
export const Pending: FC<{ pending: readonly PromotionView[]; environments: readonly Environment[]; viewer: Viewer; now: Date; back: string }> = ({ pending, environments, viewer, now, back }) => (
  <section aria-label="Pending" id="pending">
    <h2>Pending</h2>
    {pending.length === 0 ? (
      <p class="empty">Nothing is waiting.</p>
    ) : (
      <ul class="cards">
        {pending.map((p) => {
          const env = environments.find((e) => e.name === p.env);
          return (
            <li class="card">
              <h3>
                {p.apps.map((a) => `${a.app} ${a.tag}`).join(', ')} → {p.env}
              </h3>
              <p>
                <span class={`state s-${p.state}`}>{STATE_TEXT[p.state]}</span> · asked by {whoAsked(p, env)} · <Time at={p.createdAt} />
              </p>
              {p.gates && p.gates.length > 0 ? (
                <ul class="gates" aria-label="Gates">
                  {p.gates.map((g) => (
                    <GateLine gate={g} now={now} />
                  ))}
                </ul>
              ) : p.state === 'waiting' ? (
                <p>Gates: not checked yet.</p>
              ) : null}
              {p.approvals ? (
                <p>
                  Approvals: {p.approvals.given.length} of {p.approvals.required}
                  {p.approvals.given.length > 0 ? ` (${p.approvals.given.map((g) => g.by).join(', ')})` : ''}; {p.approvals.missing} still needed
                  {env?.approvals ? ` from ${env.approvals.approvers.join(', ')}` : ''}
                  {env?.approvals && !env.approvals.allowSelfApproval && p.requestedBy ? `, not ${p.requestedBy}` : ''}
                </p>
              ) : null}
              <div class="actions">
                {p.state === 'awaiting-approval' ? <ActionForm action="/board/approve" id={p.id} label="Approve" viewer={viewer} back={back} /> : null}
                <ActionForm action="/board/cancel" id={p.id} label="Cancel" viewer={viewer} back={back} />
              </div>
            </li>
          );
        })}
      </ul>
    )}
  </section>
);

export interface RecentFilter {
  app?: string | undefined;
  env?: string | undefined;
  state?: PromotionState | undefined;
}

const Select: FC<{ name: string; label: string; options: readonly string[]; value: string | undefined; any: string }> = ({ name, label, options, value, any }) => (
  <label>
    {label}{' '}
    <select name={name}>
      <option value="">{any}</option>
      {options.map((o) => (
        <option value={o} selected={o === value}>
          {o}
        </option>
      ))}
    </select>
  </label>
);

/** The latest promotions of every state, failed ones with their reason, filterable (a GET form: no script needed). */
export const Recent: FC<{ recent: readonly PromotionView[]; filter: RecentFilter; apps: readonly string[]; environments: readonly string[]; states: readonly PromotionState[]; problem?: string | undefined }> = ({ recent, filter, apps, environments, states, problem }) => (
  <section aria-label="Recent" id="recent">
    <h2>Recent</h2>
    <form method="get" action="/" class="filters">
      <Select name="app" label="App" options={apps} value={filter.app} any="any app" /> <Select name="env" label="Environment" options={environments} value={filter.env} any="any environment" />{' '}
      <Select name="state" label="State" options={states} value={filter.state} any="any state" /> <button type="submit">Filter</button>
    </form>
    <div id="recent-list">
    {problem ? <p class="bad">{problem}</p> : null}
    {recent.length === 0 ? (
      <p class="empty">No promotions{filter.app || filter.env || filter.state ? ' match' : ' yet'}.</p>
    ) : (
      <ol class="recent">
        {recent.map((p) => (
          <li>
            <Time at={p.updatedAt} /> <b>{p.apps.map((a) => `${a.app} ${a.tag}`).join(', ')}</b> → {p.env} <span class={`state s-${p.state}`}>{STATE_TEXT[p.state]}</span>
            {p.error ? <span class="why">: {p.error}</span> : p.reason && p.state !== 'committed' ? <span class="why">: {p.reason}</span> : null}
            {p.requestedBy ? ` · by ${p.requestedBy}` : ` · ${p.kind}`}
            {p.commit ? (
              <>
                {' '}
                · <code>{p.commit.slice(0, 8)}</code>
              </>
            ) : null}
          </li>
        ))}
      </ol>
    )}
    </div>
  </section>
);

/** The three live regions, as one fragment: the page itself, and what the client script swaps in after an event. */
export const LiveRegions: FC<{ overview: Overview; environments: readonly Environment[]; viewer: Viewer; now: Date; back: string; recent: Parameters<typeof Recent>[0] }> = (props) => (
  <div id="live">
    {/* Outside the refreshed regions: the grid's Resume, Promote full and Abort buttons post through it. */}
    <form id="rof" method="post" action="/board/rollout" data-fetch="">
      <Csrf viewer={props.viewer} />
      <input type="hidden" name="return" value={props.back} />
    </form>
    <Grid overview={props.overview} environments={props.environments} now={props.now} />
    <Pending pending={props.overview.pending} environments={props.environments} viewer={props.viewer} now={props.now} back={props.back} />
    <Recent {...props.recent} />
  </div>
);

/** The Promote dialog (or page, without script): the plan, the rendered diff, the refusal if any, then Confirm. */
export const PromotePanel: FC<{ preview: PromotionPreview; app: string; env: Environment | undefined; viewer: Viewer; back: string; inDialog: boolean }> = ({ preview, app, env, viewer, back, inDialog }) => {
  const item = preview.apps.find((a) => a.app === app) ?? preview.apps[0];
  return (
    <div class="panel">
      <h2 id="dialog-title">
        Promote {app} to {preview.env}
      </h2>
      <dl class="plan">
        <dt>Tag</dt>
        <dd>
          {item?.tag ?? 'none'}
          {preview.from ? ` (what ${preview.from} runs)` : ''}
        </dd>
        <dt>{preview.env} runs now</dt>
        <dd>{item?.current ?? 'nothing'}</dd>
        <dt>Then</dt>
        <dd>
          {preview.policy}: {nextStep(env)}
        </dd>
        {preview.files.length > 0 ? (
          <>
            <dt>Files</dt>
            <dd>{preview.files.join(', ')}</dd>
          </>
        ) : null}
      </dl>
      {!preview.allowed && preview.refusal ? (
        <p role="alert" class="refusal">
          Refused: {preview.refusal.error}
        </p>
      ) : null}
      {preview.note ? <p>{preview.note}</p> : null}
      <h3>Rendered manifests: kustomize build before → after (Secret values hidden)</h3>
      {preview.diff ? (
        <pre class="diff" tabindex={0} aria-label="Rendered diff">
          {preview.diff.split('\n').map((line) => (
            <span class={diffLineKind(line)}>{`${line}\n`}</span>
          ))}
        </pre>
      ) : (
        <p>{preview.allowed ? 'No change in the rendered manifests.' : 'No diff: the promotion would be refused.'}</p>
      )}
      <div class="actions">
        {preview.allowed && item?.tag ? (
          <form method="post" action="/board/promote" data-fetch="">
            <Csrf viewer={viewer} />
            <input type="hidden" name="app" value={app} />
            <input type="hidden" name="env" value={preview.env} />
            <input type="hidden" name="tag" value={item.tag} />
            <input type="hidden" name="return" value={back} />
            <button type="submit">Confirm</button>
          </form>
        ) : null}
        {inDialog ? (
          <form method="dialog">
            <button type="submit">Close</button>
          </form>
        ) : (
          <a href={back}>Back to the board</a>
        )}
      </div>
    </div>
  );
};

export interface EarlierTag {
  tag: string;
  date: string;
  by: string;
}

/** The Rollback dialog: the environment's earlier tags from Hoist's signed history, then Confirm. */
export const RollbackPanel: FC<{ app: string; env: string; current: string | null; earlier: readonly EarlierTag[]; viewer: Viewer; back: string; inDialog: boolean }> = ({ app, env, current, earlier, viewer, back, inDialog }) => (
  <div class="panel">
    <h2 id="dialog-title">
      Roll back {app} in {env}
    </h2>
    <p>
      {env} runs {current ?? 'nothing'}. A rollback is a new commit that puts an earlier tag back.
    </p>
    <form method="post" action="/board/rollback" data-fetch="">
      <Csrf viewer={viewer} />
      <input type="hidden" name="app" value={app} />
      <input type="hidden" name="env" value={env} />
      <input type="hidden" name="return" value={back} />
      {earlier.length > 0 ? (
        <fieldset>
          <legend>Earlier tags from Hoist's signed history</legend>
          {earlier.map((t, i) => (
            <label class="choice">
              <input type="radio" name="tag" value={t.tag} checked={i === 0} /> <b>{t.tag}</b> — landed <Time at={t.date} /> by {t.by}
            </label>
          ))}
        </fieldset>
      ) : (
        <p>Hoist's signed history holds no earlier tag of {app} here; Confirm goes back to what {env} ran before Hoist's first commit, if anything.</p>
      )}
      <div class="actions">
        <button type="submit">Confirm</button>
      </div>
    </form>
    {inDialog ? (
      <form method="dialog" class="actions">
        <button type="submit">Close</button>
      </form>
    ) : (
      <p>
        <a href={back}>Back to the board</a>
      </p>
    )}
  </div>
);

const safeLink = (url: string | undefined) => (url && /^https?:\/\//i.test(url) ? url : undefined);

/** One app's or environment's history: Hoist's signed promotions, and outside changes marked as such. */
export const History: FC<{ entries: readonly HistoryEntry[]; app?: string | undefined; env?: string | undefined; apps: readonly string[]; environments: readonly string[]; shown: number }> = ({ entries, app, env, apps, environments, shown }) => (
  <>
    <h1>History</h1>
    <form method="get" action="/history" class="filters">
      <Select name="app" label="App" options={apps} value={app} any="every app" /> <Select name="env" label="Environment" options={environments} value={env} any="every environment" />{' '}
      <button type="submit">Show</button>
    </form>
    <div class="scroll" tabindex={0} role="group" aria-label="History, scrollable">
      <table class="history">
        <caption>
          History of {app ?? 'every app'} in {env ?? 'every environment'}, newest first{entries.length > shown ? ` (the latest ${shown} of ${entries.length})` : ''}
        </caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Environment</th>
            <th scope="col">App</th>
            <th scope="col">Tag</th>
            <th scope="col">What</th>
            <th scope="col">Who</th>
            <th scope="col">Commit</th>
          </tr>
        </thead>
        <tbody>
          {entries.slice(0, shown).map((e) =>
            e.kind === 'outside' ? (
              <tr class="outside">
                <td>
                  <Time at={e.date} />
                </td>
                <td>{e.env}</td>
                <td>{e.app ?? '—'}</td>
                <td>{e.image !== undefined ? `${e.previousTag ?? 'none'} → ${e.tag ?? 'none'}` : '—'}</td>
                <td>
                  <strong>⚠ outside change</strong> (not signed by Hoist, grants nothing): {e.subject}
                  <br />
                  <small>files: {e.paths.join(', ')}</small>
                </td>
                <td>{e.author}</td>
                <td>
                  <code>{e.commit.slice(0, 12)}</code>
                </td>
              </tr>
            ) : (
              <tr>
                <td>
                  <Time at={e.date} />
                </td>
                <td>{e.env}</td>
                <td>{e.app}</td>
                <td>
                  <b>{e.tag}</b>
                </td>
                <td>
                  ✓ {e.kind} <small>({e.promotion})</small>
                  {safeLink(e.source) ? (
                    <>
                      {' '}
                      <a href={safeLink(e.source)} rel="noreferrer">
                        source
                      </a>
                    </>
                  ) : null}
                </td>
                <td>
                  {e.requestedBy ?? e.kind}
                  {e.approvedBy.length > 0 ? `; approved by ${e.approvedBy.join(', ')}` : ''}
                </td>
                <td>
                  <code>{e.commit.slice(0, 12)}</code>
                </td>
              </tr>
            ),
          )}
        </tbody>
      </table>
    </div>
    {entries.length === 0 ? <p class="empty">No history here yet.</p> : null}
  </>
);

/** Personal API tokens: create (shown once), list, revoke. */
export const Tokens: FC<{ tokens: readonly TokenInfo[]; created?: { token: string; name: string } | undefined; viewer: Viewer }> = ({ tokens, created, viewer }) => (
  <>
    <h1>Personal API tokens</h1>
    <p>
      A token acts as you on <code>/api</code> (<code>Authorization: Bearer …</code>): the <code>hoist</code> CLI and your scripts use one. It is stored hashed; revoking it stops it at once.
    </p>
    {created ? (
      <div class="created" role="status">
        <p>
          Your new token <b>{created.name}</b>: copy it now, it is not shown again.
        </p>
        <p>
          <code id="new-token">{created.token}</code>
        </p>
      </div>
    ) : null}
    <form method="post" action="/board/tokens" class="create">
      <Csrf viewer={viewer} />
      <label>
        Name <input name="name" required maxlength={100} autocomplete="off" />
      </label>{' '}
      <label>
        Expires in days (optional) <input name="expiresInDays" type="number" min={1} max={3650} inputmode="numeric" />
      </label>{' '}
      <button type="submit">Create token</button>
    </form>
    {tokens.length === 0 ? (
      <p class="empty">You have no tokens.</p>
    ) : (
      <table>
        <caption>Your tokens</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Created</th>
            <th scope="col">Expires</th>
            <th scope="col">
              <span class="sr">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {tokens.map((t) => (
            <tr>
              <th scope="row">{t.name}</th>
              <td>
                <Time at={t.createdAt} />
              </td>
              <td>{t.expiresAt ? <Time at={t.expiresAt} /> : 'never'}</td>
              <td>
                <form method="post" action="/board/tokens/revoke">
                  <Csrf viewer={viewer} />
                  <input type="hidden" name="id" value={t.id} />
                  <button type="submit">Revoke</button>
                </form>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    )}
  </>
);

export type SignInMode = { kind: 'demo' } | { kind: 'oidc'; issuer: string } | { kind: 'off' };

/** `/signin`: the demo's "sign in as", or a link to the identity provider. */
export const SignIn: FC<{ mode: SignInMode; back: string; signedInAs?: string | undefined }> = ({ mode, back, signedInAs }) => (
  <>
    <h1>Sign in to Hoist</h1>
    {signedInAs ? (
      <p>
        You are signed in as <b>{signedInAs}</b>. <a href={back}>Go to the board</a>.
      </p>
    ) : null}
    {mode.kind === 'demo' ? (
      <>
        <p class="banner" role="note">
          <strong>Demo sign-in: anyone can be anyone.</strong> Type any name; open a second browser window (or a private one) and sign in as another name to approve as a second person.
        </p>
        <form method="post" action="/auth/demo" class="create">
          <input type="hidden" name="return" value={back} />
          <label>
            Sign in as <input name="name" required maxlength={100} autocomplete="username" pattern="[A-Za-z0-9._@\-]+" />
          </label>{' '}
          <button type="submit">Sign in</button>
        </form>
      </>
    ) : mode.kind === 'oidc' ? (
      <p>
        <a class="button" href={`/auth/login?return=${encodeURIComponent(back)}`}>
          Sign in with {mode.issuer}
        </a>
      </p>
    ) : (
      <NotConfigured />
    )}
  </>
);

/** What `/` says when no sign-in is configured. */
export const NotConfigured: FC = () => (
  <section aria-label="Sign-in is not configured">
    <h1>Sign-in is not configured</h1>
    <p>The board is for people who sign in. Add an <code>auth</code> section to the config, for example with GitLab as the OpenID provider:</p>
    <pre>
      {`auth:
  oidc:
    issuer: https://gitlab.example.com
    clientId: \${HOIST_OIDC_CLIENT_ID}
    clientSecret: \${HOIST_OIDC_CLIENT_SECRET}
    usernameClaim: preferred_username
    groupsClaim: groups
  sessionSecret: \${HOIST_SESSION_SECRET}
  publicUrl: https://hoist.example.com`}
    </pre>
    <p>
      Register an application in GitLab with the redirect URI <code>https://hoist.example.com/auth/callback</code> and the scopes <code>openid profile email</code>. To try Hoist on
      your own machine, <code>auth: {'{'} demo: true, publicUrl: "http://127.0.0.1:8080" {'}'}</code> lets anyone sign in as any name. The API keeps working with{' '}
      <code>api.token</code> meanwhile. See the README, section “The board and sign-in”.
    </p>
  </section>
);

export const ErrorMessage: FC<{ status: number; message: string }> = ({ status, message }) => (
  <>
    <h1>{status === 404 ? 'Not found' : status === 403 ? 'Refused' : status >= 500 ? 'Hoist could not answer' : 'Cannot show this'}</h1>
    <p role="alert" class="refusal">
      {message}
    </p>
    <p>
      <a href="/">Back to the board</a>
    </p>
  </>
);

/** Seconds as a person reads a duration; "—" when there is nothing to measure. */
const duration = (seconds: number | null) => (seconds === null ? '—' : timeLeft(seconds * 1000));
const percent = (rate: number | null) => (rate === null ? '—' : `${Math.round(rate * 1000) / 10} %`);

/** The four DORA figures per environment, from Hoist's own records (what `GET /api/dora` answers). */
export const Dora: FC<{ rows: ReadonlyArray<{ env: string; figures: DoraFigures }>; days: number; app?: string | undefined; apps: readonly string[]; choices: readonly number[] }> = ({ rows, days, app, apps, choices }) => (
  <>
    <h1>Delivery figures (DORA)</h1>
    <form method="get" action="/dora" class="filters">
      <Select name="app" label="App" options={apps} value={app} any="every app" />{' '}
      <label>
        Last{' '}
        <select name="days">
          {choices.map((d) => (
            <option value={String(d)} selected={d === days}>
              {d} days
            </option>
          ))}
        </select>
      </label>{' '}
      <button type="submit">Show</button>
    </form>
    <div class="scroll" tabindex={0} role="group" aria-label="Delivery figures, scrollable">
      <table class="dora">
        <caption>
          Delivery figures of {app ?? 'every app'} per environment, last {days} days
        </caption>
        <thead>
          <tr>
            <th scope="col">Environment</th>
            <th scope="col">Deployments</th>
            <th scope="col">Deployment frequency</th>
            <th scope="col">Lead time for changes (median, p90)</th>
            <th scope="col">Change failure rate</th>
            <th scope="col">Time to restore (median)</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(({ env, figures: f }) => (
            <tr>
              <th scope="row">{env}</th>
              <td>{f.deploymentFrequency.deployments}</td>
              <td>{`${Math.round(f.deploymentFrequency.perDay * 100) / 100} per day`}</td>
              <td>{f.leadTime.samples === 0 ? '—' : `${duration(f.leadTime.medianSeconds)}, ${duration(f.leadTime.p90Seconds)} (${f.leadTime.samples} changes)`}</td>
              <td>{f.changeFailureRate.deployments === 0 ? '—' : `${percent(f.changeFailureRate.rate)} (${f.changeFailureRate.failures} of ${f.changeFailureRate.deployments})`}</td>
              <td>{f.timeToRestore.incidents === 0 ? '—' : `${duration(f.timeToRestore.medianSeconds)} (${f.timeToRestore.incidents} incidents)`}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
    <p>
      <small>From Hoist's own records: a deployment is a promotion that landed (rollbacks included); lead time runs from the source commit to healthy; a failure is a deployment that degraded or was rolled back soon after.</small>
    </p>
  </>
);
