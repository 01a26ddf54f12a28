/**
 * The board: the pages people sign into (`/`, `/history`, `/tokens`, `/signin`) and their form posts under
 * `/board/…`. Every act goes through the same services as the API, so a refusal reads the same here as there.
 * Forms work without script (post, then 303 back with the outcome); the client script sends them with fetch
 * instead, opens the Promote and Rollback dialogs, and follows `GET /api/events` to refresh the live regions.
 */
import type { Context } from 'hono';
import { Hono } from 'hono';
import { deleteCookie, getSignedCookie, setSignedCookie } from 'hono/cookie';
import type { JSX } from 'hono/jsx/jsx-runtime';
import type { Caller } from '../auth/identity.js';
import { formatRollout, isRolloutAction } from '../domain/rollout.js';
import type { App, Environment, PromotionState } from '../domain/types.js';
import { HoistError, isHoistError } from '../errors.js';
import type { BoardMount } from '../http/app.js';
import { statusOf } from '../http/errors.js';
import { callerOf, type SessionCookies } from '../http/identity.js';
import { documentPage } from '../http/openapi.js';
import { PROMOTION_STATES } from '../http/schemas.js';
import { safeReturn } from '../http/sign-in.js';
import type { HttpEnv } from '../http/types.js';
import type { ApiTokenService } from '../service/api-tokens.js';
import type { Dora as DoraService } from '../service/dora.js';
import type { OverviewService } from '../service/overview.js';
import type { PromotionService, PromotionView } from '../service/promotion-service.js';
import { loadAssets, type AssetName } from './assets.js';
import { STATE_TEXT } from './format.js';
import {
  Dora,
  ErrorMessage,
  History,
  Layout,
  LiveRegions,
  NotConfigured,
  PromotePanel,
  RollbackPanel,
  SignIn,
  Tokens,
  type EarlierTag,
  type Flash,
  type RecentFilter,
  type SignInMode,
  type Viewer,
} from './pages.js';

export interface BoardDeps {
  service: PromotionService;
  overview: OverviewService;
  tokens: ApiTokenService;
  /** The DORA figures the /dora page shows (GET /api/dora's service). */
  dora: Pick<DoraService, 'figures'>;
  environments: readonly Environment[];
  apps: readonly App[];
  /** Session cookies; undefined when no sign-in is configured (the board then says how to configure it). */
  cookies: SessionCookies | undefined;
  signIn: SignInMode;
  now?: () => Date;
}

/** Where the board's routes live: identified and CSRF-checked by the app, like /api. */
export const BOARD_PATHS = ['/', '/history', '/dora', '/tokens', '/signin', '/board/*'] as const;

/**
 * No inline script, no inline style, no framing, nothing from elsewhere: what hostile content might smuggle into
 * a page (a tag, a commit subject) could not run even if the escaping failed.
 */
export const BOARD_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const PAGE_HEADERS = {
  'Content-Type': 'text/html; charset=utf-8',
  'Content-Security-Policy': BOARD_CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

const FLASH_COOKIE = 'hoist_flash';
const RECENT_SHOWN = 20;
const HISTORY_SHOWN = 300;
/** The windows the /dora page offers. */
const DORA_DAYS: readonly number[] = [7, 30, 90];

type Form = Record<string, string | File | (string | File)[]>;

const field = (form: Form, name: string): string | undefined => {
  const value = form[name];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
};

const required = (form: Form, name: string): string => {
  const value = field(form, name);
  if (value === undefined) throw new HoistError('bad_request', `${name}: missing`);
  return value;
};

/** A fetch from the client script asks for JSON; a plain form post wants a page (a redirect back). */
const wantsJson = (c: Context) => /application\/json/.test(c.req.header('accept') ?? '');

const viewerOf = (caller: Caller): Viewer => ({
  user: caller.actor.name,
  csrf: caller.kind === 'session' ? caller.session.csrf : '',
  demo: caller.kind === 'session' && caller.session.via === 'demo',
});

const pathOf = (c: Context) => {
  const url = new URL(c.req.url);
  return `${url.pathname}${url.search}`;
};

const describe = (p: PromotionView) => `${p.apps.map((a) => `${a.app} ${a.tag}`).join(', ')} → ${p.env}`;

/** `?c=web+prod` (a grid button) or `?app=web&env=prod`. */
function cellOf(c: Context): { app: string; env: string } {
  const cell = c.req.query('c')?.trim().split(/\s+/);
  const app = cell?.[0] ?? c.req.query('app') ?? '';
  const env = cell?.[1] ?? c.req.query('env') ?? '';
  if (!app || !env) throw new HoistError('bad_request', 'name the app and the environment (?app=…&env=…)');
  return { app, env };
}

export function createBoard(deps: BoardDeps): BoardMount {
  const now = deps.now ?? (() => new Date());
  const assets = loadAssets();
  const versions = { js: assets['board.js'].version, css: assets['board.css'].version };
  const appNames = deps.apps.map((a) => a.name);
  const envNames = deps.environments.map((e) => e.name);
  const envNamed = (name: string) => deps.environments.find((e) => e.name === name);

  const send = async (c: Context, node: JSX.Element, status = 200) =>
    c.body(`<!doctype html>${await node.toString()}`, status as 200, PAGE_HEADERS);

  const page = (c: Context, title: string, content: JSX.Element, options: { viewer?: Viewer; flash?: Flash; status?: number; live?: boolean } = {}) =>
    send(
      c,
      <Layout title={title} viewer={options.viewer} flash={options.flash} assets={versions} live={options.live}>
        {content}
      </Layout>,
      options.status,
    );

  const setFlash = async (c: Context, flash: Flash) => {
    if (!deps.cookies) return;
    const value = Buffer.from(JSON.stringify({ kind: flash.kind, message: flash.message.slice(0, 1_500) })).toString('base64url');
    await setSignedCookie(c, FLASH_COOKIE, value, deps.cookies.secret, { httpOnly: true, sameSite: 'Lax', secure: deps.cookies.secure, path: '/', maxAge: 60 });
  };
  /** The outcome of the form post that redirected here, once; signed, so nobody can put words in the page. */
  const takeFlash = async (c: Context): Promise<Flash | undefined> => {
    if (!deps.cookies) return undefined;
    const raw = await getSignedCookie(c, deps.cookies.secret, FLASH_COOKIE);
    if (raw === undefined) return undefined;
    deleteCookie(c, FLASH_COOKIE, { path: '/', secure: deps.cookies.secure, httpOnly: true, sameSite: 'Lax' });
    try {
      const parsed = JSON.parse(Buffer.from(String(raw), 'base64url').toString('utf8')) as Flash;
      return (parsed.kind === 'ok' || parsed.kind === 'error') && typeof parsed.message === 'string' ? parsed : undefined;
    } catch {
      return undefined;
    }
  };

  const signInAt = (back: string) => `/auth/login?return=${encodeURIComponent(back)}`;

  /**
   * A page for a signed-in person: a visit without a (live) session goes to sign-in and comes back; without any
   * sign-in configured the page says how to configure it. A refusal or failure is a page too, with its status.
   */
  const personPage = (render: (c: Context<HttpEnv>, caller: Caller, viewer: Viewer) => Promise<Response>) => async (c: Context<HttpEnv>) => {
    if (!deps.cookies) return page(c, 'Sign-in is not configured', <NotConfigured />);
    const caller = c.get('caller');
    if (!caller) return c.redirect(signInAt(pathOf(c)), 302);
    const viewer = viewerOf(caller);
    try {
      return await render(c, caller, viewer);
    } catch (error) {
      if (!isHoistError(error)) throw error;
      const status = statusOf(error.code);
      return page(c, 'Refused', <ErrorMessage status={status} message={error.message} />, { viewer, status });
    }
  };

  /** The Recent filter from the query, checked as the API checks it: a wrong one says why and shows nothing. */
  const recentOf = async (c: Context): Promise<{ filter: RecentFilter; recent: PromotionView[]; problem?: string }> => {
    const q = (name: string) => c.req.query(name)?.trim() || undefined;
    const filter: RecentFilter = { app: q('app'), env: q('env'), state: q('state') as PromotionState | undefined };
    if (filter.state !== undefined && !(PROMOTION_STATES as readonly string[]).includes(filter.state)) {
      return { filter, recent: [], problem: `unknown state "${filter.state.slice(0, 40)}" (known: ${PROMOTION_STATES.join(', ')})` };
    }
    try {
      const recent = await deps.service.list({ ...(filter.state ? { states: [filter.state] } : {}), ...(filter.app ? { app: filter.app } : {}), ...(filter.env ? { env: filter.env } : {}), limit: RECENT_SHOWN });
      return { filter, recent };
    } catch (error) {
      if (isHoistError(error) && error.code === 'bad_request') return { filter, recent: [], problem: error.message };
      throw error;
    }
  };

  const liveRegions = async (c: Context, viewer: Viewer, back: string) => {
    const [overview, recent] = await Promise.all([deps.overview.read(), recentOf(c)]);
    return (
      <LiveRegions
        overview={overview}
        environments={deps.environments}
        viewer={viewer}
        now={now()}
        back={back}
        recent={{ ...recent, apps: appNames, environments: envNames, states: PROMOTION_STATES }}
      />
    );
  };

  /** A state-changing form post: the act, then its outcome as JSON (fetch) or a 303 back with the outcome. */
  const act = (run: (form: Form, caller: Caller) => Promise<string>) => async (c: Context<HttpEnv>) => {
    const json = wantsJson(c);
    const form = (await c.req.parseBody()) as Form;
    const back = safeReturn(field(form, 'return'));
    const caller = c.get('caller');
    if (!caller) {
      if (json) callerOf(c);
      return c.redirect(signInAt(back), 303);
    }
    try {
      const message = await run(form, caller);
      if (json) return c.json({ message });
      await setFlash(c, { kind: 'ok', message });
    } catch (error) {
      // A fetch gets the API's own answer (status and `{error, code}`), a form post the same words on the page.
      if (json || !isHoistError(error)) throw error;
      await setFlash(c, { kind: 'error', message: error.message });
    }
    return c.redirect(back, 303);
  };

  const asset = (name: AssetName) => (c: Context) => {
    const { body, type, version } = assets[name];
    // Pages link `?v=<hash of the bytes>`: that URL never changes meaning, so it may be cached for good.
    const cache = c.req.query('v') === version ? 'public, max-age=31536000, immutable' : 'no-cache';
    return c.body(body as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': type, 'Cache-Control': cache, 'X-Content-Type-Options': 'nosniff' });
  };

  const routes = new Hono<HttpEnv>()
    .get('/assets/board.js', asset('board.js'))
    .get('/assets/board.css', asset('board.css'))
    .get('/signin', async (c) => {
      const back = safeReturn(c.req.query('return'));
      const caller = c.get('caller');
      const viewer = caller && deps.cookies ? viewerOf(caller) : undefined;
      return page(c, 'Sign in', <SignIn mode={deps.cookies ? deps.signIn : { kind: 'off' }} back={back} signedInAs={viewer?.user} />, { viewer });
    })
    .get(
      '/',
      personPage(async (c, _caller, viewer) => {
        const back = pathOf(c);
        const [flash, regions] = await Promise.all([takeFlash(c), liveRegions(c, viewer, back)]);
        return page(
          c,
          'Board',
          <>
            <h1 class="sr">Promotion board</h1>
            {regions}
          </>,
          { viewer, flash, live: true },
        );
      }),
    )
    .get('/board/live', async (c) => {
      const caller = callerOf(c);
      const url = new URL(c.req.url);
      return send(c, await liveRegions(c, viewerOf(caller), `/${url.search}`));
    })
    .get(
      '/board/promote',
      personPage(async (c, caller, viewer) => {
        const { app, env } = cellOf(c);
        const preview = await deps.service.preview({ apps: [app], to: env }, caller.actor);
        const dialog = c.req.query('dialog') === '1';
        const back = safeReturn(c.req.query('return'));
        const panel = <PromotePanel preview={preview} app={app} env={envNamed(env)} viewer={viewer} back={back} inDialog={dialog} />;
        return dialog ? send(c, panel) : page(c, `Promote ${app} to ${env}`, panel, { viewer });
      }),
    )
    .get(
      '/board/rollback',
      personPage(async (c, _caller, viewer) => {
        const { app, env } = cellOf(c);
        if (!envNamed(env)) throw new HoistError('bad_request', `unknown environment "${env.slice(0, 63)}" (known: ${envNames.join(', ')})`);
        const [status, history] = await Promise.all([deps.service.status(app), deps.service.history({ app, env })]);
        const current = status.environments.find((e) => e.name === env)?.apps.find((a) => a.app === app)?.tag ?? null;
        const earlier: EarlierTag[] = [];
        // Only Hoist's own landings are rollback targets (an outside commit never makes one), newest first, once each.
        for (const entry of history) {
          if (entry.kind === 'outside' || entry.tag === current || earlier.some((e) => e.tag === entry.tag)) continue;
          earlier.push({ tag: entry.tag, date: entry.date, by: entry.requestedBy ?? entry.kind });
        }
        const dialog = c.req.query('dialog') === '1';
        const back = safeReturn(c.req.query('return'));
        const panel = <RollbackPanel app={app} env={env} current={current} earlier={earlier.slice(0, 30)} viewer={viewer} back={back} inDialog={dialog} />;
        return dialog ? send(c, panel) : page(c, `Roll back ${app} in ${env}`, panel, { viewer });
      }),
    )
    .get(
      '/history',
      personPage(async (c, _caller, viewer) => {
        const app = c.req.query('app')?.trim() || undefined;
        const env = c.req.query('env')?.trim() || undefined;
        const entries = await deps.service.history({ ...(app ? { app } : {}), ...(env ? { env } : {}) });
        return page(c, 'History', <History entries={entries} app={app} env={env} apps={appNames} environments={envNames} shown={HISTORY_SHOWN} />, { viewer, flash: await takeFlash(c) });
      }),
    )
    .get(
      '/dora',
      personPage(async (c, _caller, viewer) => {
        const app = c.req.query('app')?.trim() || undefined;
        if (app !== undefined && !appNames.includes(app)) throw new HoistError('bad_request', `unknown app "${app}"`);
        const asked = Number(c.req.query('days') ?? DORA_DAYS[1]);
        const days = DORA_DAYS.includes(asked) ? asked : (DORA_DAYS[1] as number);
        const until = (deps.now ?? (() => new Date()))();
        const since = new Date(until.getTime() - days * 86_400_000);
        const rows = await Promise.all(envNames.map(async (env) => ({ env, figures: await deps.dora.figures({ env, ...(app ? { app } : {}), since, until }) })));
        return page(c, 'DORA', <Dora rows={rows} days={days} app={app} apps={appNames} choices={DORA_DAYS} />, { viewer, flash: await takeFlash(c) });
      }),
    )
    .get(
      '/tokens',
      personPage(async (c, caller, viewer) => {
        const [tokens, flash] = await Promise.all([deps.tokens.list(caller), takeFlash(c)]);
        return page(c, 'Tokens', <Tokens tokens={tokens} viewer={viewer} />, { viewer, flash });
      }),
    )
    .post(
      '/board/promote',
      act(async (form, caller) => {
        const view = await deps.service.requestPromotion({ apps: [required(form, 'app')], to: required(form, 'env'), ...(field(form, 'tag') ? { tag: field(form, 'tag') } : {}) }, caller.actor);
        return `Promotion ${describe(view)}: ${STATE_TEXT[view.state]}.`;
      }),
    )
    .post(
      '/board/approve',
      act(async (form, caller) => {
        const view = await deps.service.approve(required(form, 'id'), caller.actor);
        const count = view.approvals ? ` (${view.approvals.given.length} of ${view.approvals.required})` : '';
        return `Approved ${describe(view)}${count}: ${STATE_TEXT[view.state]}.`;
      }),
    )
    .post(
      '/board/cancel',
      act(async (form, caller) => {
        const view = await deps.service.cancel(required(form, 'id'), caller.actor);
        return `Cancelled ${describe(view)}.`;
      }),
    )
    .post(
      '/board/rollback',
      act(async (form, caller) => {
        const tag = field(form, 'tag');
        const view = await deps.service.rollback({ app: required(form, 'app'), env: required(form, 'env'), ...(tag ? { tag } : {}) }, caller.actor);
        return `Rollback ${describe(view)}: ${STATE_TEXT[view.state]}.`;
      }),
    )
    .post(
      '/board/rollout',
      act(async (form, caller) => {
        // The grid's button says which promotion's Rollout and what to do: `<id> <action>`.
        const [id = '', action = ''] = required(form, 'rollout').split(' ');
        if (!isRolloutAction(action)) throw new HoistError('bad_request', `rollout: "${action.slice(0, 20)}" is none of resume, promote-full, abort`);
        if (!deps.service.rollout) throw new HoistError('conflict', 'Argo CD is not configured (argocd): Hoist drives Rollouts through it');
        const view = await deps.service.rollout({ id }, action, caller.actor);
        const done = action === 'abort' && view.rolledBackBy ? `; rolling back with promotion ${view.rolledBackBy}` : '';
        return `${action === 'resume' ? 'Resumed' : action === 'abort' ? 'Aborted' : 'Fully promoted'} ${describe(view)}${view.rollout ? `: ${formatRollout(view.rollout)}` : ''}${done}.`;
      }),
    )
    .post('/board/tokens', async (c) => {
      // The new token is shown in this answer and never again: no redirect, no cookie carries it.
      const form = (await c.req.parseBody()) as Form;
      const caller = c.get('caller');
      if (!caller) return c.redirect(signInAt('/tokens'), 303);
      const viewer = viewerOf(caller);
      const days = field(form, 'expiresInDays');
      try {
        if (days !== undefined && !/^\d{1,4}$/.test(days)) throw new HoistError('bad_request', 'expiresInDays: a whole number of days from 1 to 3650');
        const { token, info } = await deps.tokens.create(caller, { name: field(form, 'name') ?? '', ...(days ? { expiresInDays: Number(days) } : {}) });
        const tokens = await deps.tokens.list(caller);
        return page(c, 'Tokens', <Tokens tokens={tokens} viewer={viewer} created={{ token, name: info.name }} />, { viewer, status: 201 });
      } catch (error) {
        if (!isHoistError(error)) throw error;
        await setFlash(c, { kind: 'error', message: error.message });
        return c.redirect('/tokens', 303);
      }
    })
    .post(
      '/board/tokens/revoke',
      act(async (form, caller) => {
        const id = required(form, 'id');
        const name = (await deps.tokens.list(caller)).find((t) => t.id === id)?.name;
        await deps.tokens.revoke(caller, id);
        return `Revoked the token ${name ?? id}: it no longer works.`;
      }),
    );

  return {
    routes,
    paths: BOARD_PATHS,
    document(registry) {
      documentPage(registry, 'get', '/', 'The board: apps × environments, Pending and Recent (signed-in people; otherwise a redirect to sign-in)');
      documentPage(registry, 'get', '/signin', 'Sign-in page: the demo\'s "sign in as", or a link to the OpenID provider');
      documentPage(registry, 'get', '/history', 'History of an app and/or environment from the signed history (?app=&env=), outside changes marked');
      documentPage(registry, 'get', '/dora', 'DORA figures per environment (?app=&days=7|30|90): deployment frequency, lead time, change failure rate, time to restore');
      documentPage(registry, 'get', '/tokens', 'Personal API tokens: create (shown once), list, revoke');
      documentPage(registry, 'get', '/assets/board.js', "The board's client script");
      documentPage(registry, 'get', '/assets/board.css', "The board's stylesheet");
      documentPage(registry, 'get', '/board/live', 'The live regions (grid, Pending, Recent) as an HTML fragment, for the client script');
      documentPage(registry, 'get', '/board/promote', 'What promoting would do (?app=&env=): plan, rendered diff, refusal; then Confirm');
      documentPage(registry, 'get', '/board/rollback', "The environment's earlier tags from the signed history (?app=&env=); then Confirm");
      documentPage(registry, 'post', '/board/promote', 'Request a promotion (form: app, env, tag, _csrf)');
      documentPage(registry, 'post', '/board/approve', 'Approve a pending promotion (form: id, _csrf)');
      documentPage(registry, 'post', '/board/cancel', 'Cancel a pending promotion (form: id, _csrf)');
      documentPage(registry, 'post', '/board/rollback', 'Roll back (form: app, env, tag, _csrf)');
      documentPage(registry, 'post', '/board/rollout', "Run a Rollout action: Resume, Promote full, Abort (form: rollout = '<promotion id> <resume|promote-full|abort>', _csrf)");
      documentPage(registry, 'post', '/board/tokens', 'Create a personal API token (form: name, expiresInDays, _csrf): shown once in the answer');
      documentPage(registry, 'post', '/board/tokens/revoke', 'Revoke a personal API token (form: id, _csrf)');
    },
  };
}
