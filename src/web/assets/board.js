// The board's client script: progressive enhancement of server-rendered pages that work without it.
// It opens the Promote and Rollback dialogs, sends the board's forms with fetch, counts soak gates down,
// and follows GET /api/events to refresh the live regions within a moment of any change. No framework,
// no build step, nothing from elsewhere (the page's Content-Security-Policy allows only this file).
/* global document, window, location, EventSource, DOMParser, FormData, URLSearchParams, HTMLFormElement, setInterval */
(() => {
  'use strict';
  const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';
  const dialog = document.getElementById('dialog');
  const notice = document.getElementById('notice');
  const alertBox = document.getElementById('alert');
  const here = () => location.pathname + location.search;

  /** Outcome words: cleared first so a screen reader announces the new ones. */
  const say = (ok, message) => {
    if (!notice || !alertBox) return;
    notice.textContent = '';
    alertBox.textContent = '';
    (ok ? notice : alertBox).textContent = message;
  };

  const errorOf = async (res) => {
    const text = await res.text().catch(() => '');
    try {
      return JSON.parse(text).error ?? `refused (${res.status})`;
    } catch {
      return text.trim().slice(0, 500) || `refused (${res.status})`;
    }
  };

  const parse = (html) => new DOMParser().parseFromString(html, 'text/html');

  // Soak gates: the server wrote the end in <time datetime>; count down to it.
  const left = (ms) => {
    const s = Math.max(0, Math.ceil(ms / 1000));
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
    const h = Math.floor(m / 60);
    return h < 48 ? `${h}h ${String(m % 60).padStart(2, '0')}m` : `${Math.floor(h / 24)}d ${h % 24}h`;
  };
  const tick = () => {
    for (const t of document.querySelectorAll('time.countdown')) t.textContent = left(Date.parse(t.dateTime) - Date.now());
  };
  setInterval(tick, 1000);

  /** What identifies a control across a refresh: the same button in the new markup gets the focus back. */
  const keyOf = (el) => {
    if (!el || el === document.body || !el.tagName) return undefined;
    const form = el.form ?? el.closest?.('form');
    const id = form?.querySelector?.('input[name="id"]')?.value ?? '';
    return [el.tagName, el.name ?? '', el.value ?? '', el.textContent?.trim() ?? '', form?.id || form?.getAttribute?.('action') || '', id].join('|');
  };
  const findByKey = (key) => {
    for (const el of document.querySelectorAll('button, a[href], select, input, [tabindex]')) if (keyOf(el) === key) return el;
    return undefined;
  };

  // The live regions: the grid, Pending, and Recent's list (not its filter form, which may be half filled in).
  const REGIONS = ['grid', 'pending', 'recent-list'];
  let refreshing = false;
  let queued = false;
  const refresh = async () => {
    if (refreshing) {
      queued = true;
      return;
    }
    refreshing = true;
    try {
      const res = await fetch(`/board/live${location.search}`, { headers: { Accept: 'text/html' }, credentials: 'same-origin' });
      if (res.status === 401) {
        location.assign(`/auth/login?return=${encodeURIComponent(here())}`);
        return;
      }
      if (!res.ok) return;
      const next = parse(await res.text());
      const active = document.activeElement;
      const key = keyOf(active);
      for (const id of REGIONS) {
        const fresh = next.getElementById(id);
        const current = document.getElementById(id);
        if (fresh && current) current.replaceWith(document.adoptNode(fresh));
      }
      if (key && active && !active.isConnected) findByKey(key)?.focus();
      tick();
    } catch {
      // Hoist away for a moment: the next event or the periodic refresh tries again.
    } finally {
      refreshing = false;
      if (queued) {
        queued = false;
        void refresh();
      }
    }
  };
  let soonTimer;
  let againTimer;
  /**
   * Refresh shortly after a change, and once more a little later: the board reads the GitOps branch through a
   * head fetched within the last second, so the commit an event announces may show only in the second read.
   */
  const soon = () => {
    clearTimeout(soonTimer);
    clearTimeout(againTimer);
    soonTimer = setTimeout(refresh, 100);
    againTimer = setTimeout(refresh, 1_300);
  };

  const follow = () => {
    if (!window.EventSource) return;
    // summary: one `changed` per burst instead of every event; the board redraws from /board/live anyway.
    const events = new EventSource('/api/events?summary=true');
    for (const type of ['changed', 'promotion', 'health', 'rollout', 'reset']) events.addEventListener(type, soon);
    events.addEventListener('open', soon);
    events.addEventListener('error', () => {
      // Closed for good (a 401 after the session ended, a 503): refresh (which goes to sign-in on 401), retry later.
      if (events.readyState === EventSource.CLOSED) {
        soon();
        setTimeout(follow, 5_000);
      }
    });
  };
  if (document.body.dataset.live === 'on') {
    follow();
    // Commits made outside Hoist announce nothing: look again now and then.
    setInterval(soon, 60_000);
  }

  // Dialogs: focus moves in (to the title), Escape or Close leaves, and focus goes back to the button that opened it.
  let opener;
  let openerKey;
  dialog?.addEventListener('close', () => {
    dialog.replaceChildren();
    const back = opener?.isConnected ? opener : openerKey ? findByKey(openerKey) : undefined;
    back?.focus();
    opener = undefined;
  });
  const openDialog = async (form, submitter) => {
    // Keyed now: a refresh while the dialog loads may replace the button (a detached one has no form).
    const key = keyOf(submitter);
    const params = new URLSearchParams({ c: submitter?.value ?? '', dialog: '1', return: here() });
    const res = await fetch(`${form.getAttribute('action')}?${params}`, { headers: { Accept: 'text/html' }, credentials: 'same-origin' });
    if (!res.ok) {
      say(false, await errorOf(res));
      return;
    }
    const doc = parse(await res.text());
    dialog.replaceChildren(...[...doc.body.childNodes].map((n) => document.adoptNode(n)));
    opener = submitter;
    openerKey = key;
    dialog.showModal();
    const title = dialog.querySelector('#dialog-title');
    if (title) {
      title.setAttribute('tabindex', '-1');
      title.focus();
    }
  };

  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || form.getAttribute('method') === 'dialog') return;
    const submitter = event.submitter;
    if ((form.id === 'pf' || form.id === 'rf') && dialog?.showModal) {
      event.preventDefault();
      void openDialog(form, submitter).catch((error) => say(false, `Hoist did not answer: ${error.message}`));
      return;
    }
    if (!form.hasAttribute('data-fetch')) return;
    event.preventDefault();
    // The submitter's name and value go with the form (the grid's Rollout buttons carry theirs): read before disabling it.
    const body = new URLSearchParams(new FormData(form, submitter));
    if (submitter) submitter.disabled = true;
    void fetch(form.getAttribute('action'), { method: 'POST', body, headers: { Accept: 'application/json', 'X-CSRF-Token': csrf }, credentials: 'same-origin' })
      .then(async (res) => {
        if (dialog?.open && dialog.contains(form)) dialog.close();
        if (res.ok) say(true, (await res.json().catch(() => ({}))).message ?? 'Done.');
        else say(false, await errorOf(res));
      })
      .catch((error) => say(false, `Hoist did not answer: ${error.message}`))
      .finally(() => {
        if (submitter?.isConnected) submitter.disabled = false;
        soon();
      });
  });
})();
