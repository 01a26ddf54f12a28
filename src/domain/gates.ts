/** Gate rules, pure: what a gated promotion waits for, given facts and the time. */

export interface TimeWindow {
  /** 0 = Sunday … 6 = Saturday. */
  days: ReadonlySet<number>;
  startMinute: number;
  endMinute: number;
  timeZone: string;
  text: string;
}

export interface FreezePeriod {
  start: Date;
  /** Exclusive. */
  end: Date;
  text: string;
}

export interface Gates {
  soakMs?: number | undefined;
  healthy?: boolean | undefined;
  window?: TimeWindow | undefined;
  freeze?: readonly FreezePeriod[] | undefined;
}

export type Health = 'deployed' | 'degraded' | 'unknown';

export interface GateFacts {
  /** When the version landed in the `from` environment. */
  landedAt: Date;
  health: Health;
}

export interface GateResult {
  gate: 'soak' | 'healthy' | 'window' | 'freeze';
  status: 'passed' | 'waiting';
  reason: string;
}

export interface GateDecision {
  passed: boolean;
  results: GateResult[];
  /** The earliest time something could change by itself (soak ends, window opens, freeze ends). */
  recheckAt?: Date | undefined;
}

const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function dayIndex(name: string): number {
  const i = DAY_NAMES.indexOf(name.slice(0, 3).toLowerCase());
  if (i < 0) throw new Error(`unknown day "${name}"`);
  return i;
}

function minutes(hhmm: string): number {
  const match = /^(\d{1,2}):(\d{2})$/.exec(hhmm);
  if (!match) throw new Error(`"${hhmm}" is not a time like 08:00`);
  const [h, m] = [Number(match[1]), Number(match[2])];
  if (h > 24 || m > 59 || (h === 24 && m > 0)) throw new Error(`"${hhmm}" is not a time of day`);
  return h * 60 + m;
}

export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** `Mon-Fri 08:00-17:00 Europe/Berlin`, `Sat,Sun 10:00-12:00 UTC`, `Mon 00:00-24:00` (UTC when no zone). */
export function parseWindow(text: string): TimeWindow {
  const parts = text.trim().split(/\s+/);
  if (parts.length < 2 || parts.length > 3) throw new Error('expected "<days> <HH:MM>-<HH:MM> [time zone]", e.g. "Mon-Fri 08:00-17:00 Europe/Berlin"');
  const [dayText, timeText, timeZone = 'UTC'] = parts as [string, string, string?];
  const days = new Set<number>();
  for (const piece of dayText.split(',')) {
    const [from, to] = piece.split('-');
    if (!from) throw new Error(`"${dayText}" is not a list of days`);
    const a = dayIndex(from);
    const b = to === undefined ? a : dayIndex(to);
    for (let d = a; ; d = (d + 1) % 7) {
      days.add(d);
      if (d === b) break;
    }
  }
  const [start, end] = timeText.split('-');
  if (!start || !end) throw new Error(`"${timeText}" is not a time range like 08:00-17:00`);
  const startMinute = minutes(start);
  const endMinute = minutes(end);
  if (endMinute <= startMinute) throw new Error(`the window "${timeText}" ends before it starts`);
  if (!isTimeZone(timeZone)) throw new Error(`unknown time zone "${timeZone}"`);
  return { days, startMinute, endMinute, timeZone, text };
}

/** `2026-12-20/2027-01-04`: whole days, both ends included, in `timeZone`'s calendar (UTC by default). */
export function parseFreeze(text: string, timeZone = 'UTC'): FreezePeriod {
  const match = /^(\d{4}-\d{2}-\d{2})\/(\d{4}-\d{2}-\d{2})$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a date range like 2026-12-20/2027-01-04`);
  const start = zonedMidnight(match[1] as string, timeZone);
  const endDay = new Date(`${match[2] as string}T00:00:00Z`);
  endDay.setUTCDate(endDay.getUTCDate() + 1);
  const end = zonedMidnight(endDay.toISOString().slice(0, 10), timeZone);
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime())) throw new Error(`"${text}" has an invalid date`);
  if (end <= start) throw new Error(`the freeze "${text}" ends before it starts`);
  return { start, end, text };
}

interface LocalTime {
  day: number;
  minute: number;
}

function localTime(date: Date, timeZone: string): LocalTime {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(date);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return { day: dayIndex(get('weekday')), minute: Number(get('hour')) * 60 + Number(get('minute')) };
}

/** Midnight of a calendar date in a time zone, as an instant. */
function zonedMidnight(isoDate: string, timeZone: string): Date {
  const guess = new Date(`${isoDate}T00:00:00Z`);
  // Correct by the zone's offset at that instant (twice, for days when the offset changes).
  let result = guess;
  for (let i = 0; i < 2; i++) {
    const { minute } = localTime(result, timeZone);
    const localDate = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(result);
    const dayShift = (Date.parse(`${localDate}T00:00:00Z`) - guess.getTime()) / 60_000;
    result = new Date(result.getTime() - (dayShift + minute) * 60_000);
  }
  return result;
}

export function inWindow(window: TimeWindow, at: Date): boolean {
  const { day, minute } = localTime(at, window.timeZone);
  return window.days.has(day) && minute >= window.startMinute && minute < window.endMinute;
}

/** The next instant (to the minute) at which the window is open; `at` itself when it is open now. */
export function nextOpening(window: TimeWindow, at: Date): Date {
  const t = new Date(Math.ceil(at.getTime() / 60_000) * 60_000);
  for (let i = 0; i <= 8 * 24 * 60; i++) {
    if (inWindow(window, t)) return t;
    t.setTime(t.getTime() + 60_000);
  }
  return t;
}

function formatDuration(ms: number): string {
  const s = Math.ceil(ms / 1000);
  if (s < 120) return `${s}s`;
  const m = Math.ceil(s / 60);
  return m < 120 ? `${m}m` : `${Math.floor(m / 60)}h${m % 60 ? `${m % 60}m` : ''}`;
}

/** Every gate's status with a reason a person can act on; `passed` only when all pass. */
export function evaluateGates(gates: Gates, facts: GateFacts, now: Date): GateDecision {
  const results: GateResult[] = [];
  const wakeups: Date[] = [];
  if (gates.soakMs !== undefined) {
    const ready = new Date(facts.landedAt.getTime() + gates.soakMs);
    if (now >= ready) results.push({ gate: 'soak', status: 'passed', reason: `in the source environment for ${formatDuration(now.getTime() - facts.landedAt.getTime())} (soak ${formatDuration(gates.soakMs)})` });
    else {
      results.push({ gate: 'soak', status: 'waiting', reason: `soaking: ${formatDuration(ready.getTime() - now.getTime())} to go (until ${ready.toISOString()})` });
      wakeups.push(ready);
    }
  }
  if (gates.healthy) {
    results.push(
      facts.health === 'deployed'
        ? { gate: 'healthy', status: 'passed', reason: 'deployed and healthy in the source environment' }
        : { gate: 'healthy', status: 'waiting', reason: facts.health === 'degraded' ? 'degraded in the source environment' : 'no report yet that it is deployed and healthy in the source environment' },
    );
  }
  for (const freeze of gates.freeze ?? []) {
    if (now >= freeze.start && now < freeze.end) {
      results.push({ gate: 'freeze', status: 'waiting', reason: `inside the freeze ${freeze.text} (until ${freeze.end.toISOString()})` });
      wakeups.push(freeze.end);
    }
  }
  if (gates.freeze && gates.freeze.length > 0 && !results.some((r) => r.gate === 'freeze')) {
    results.push({ gate: 'freeze', status: 'passed', reason: 'outside every freeze' });
  }
  if (gates.window) {
    if (inWindow(gates.window, now)) results.push({ gate: 'window', status: 'passed', reason: `inside the window ${gates.window.text}` });
    else {
      const opens = nextOpening(gates.window, now);
      results.push({ gate: 'window', status: 'waiting', reason: `outside the window ${gates.window.text}; opens ${opens.toISOString()}` });
      wakeups.push(opens);
    }
  }
  const passed = results.every((r) => r.status === 'passed');
  const recheckAt = wakeups.length > 0 ? new Date(Math.min(...wakeups.map((d) => d.getTime()))) : undefined;
  return { passed, results, recheckAt };
}
