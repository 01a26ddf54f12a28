import { styleText } from 'node:util';

/** The process's streams as the CLI uses them (a test or another caller may hand in others). */
export interface CliStreams {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
}

type Style = Parameters<typeof styleText>[0];

export interface Output {
  /** --json: stdout carries one JSON document, and nothing else. */
  readonly json: boolean;
  /** A line of the command's human output (stdout; stderr under --json, so stdout stays one document). */
  line(text?: string): void;
  /** A note or a reason, always on stderr. */
  note(text: string): void;
  /** The JSON document (only under --json). */
  data(value: unknown): void;
  /** Colour for the stream `line` writes to, when it is a terminal and NO_COLOR is not set. */
  paint(style: Style, text: string): string;
  /** A progress line on stderr that redraws itself; nothing unless stderr is a terminal. */
  spinner(): Spinner;
}

export interface Spinner {
  update(text: string): void;
  /** Clears the line (before other output, and at the end). */
  clear(): void;
  stop(): void;
}

/**
 * Text from elsewhere (commit authors and subjects, reasons, tags) printed to a terminal: control characters could
 * move the cursor, rewrite earlier lines or set the window title, so they are shown as escapes instead.
 */
export function clean(text: string, options: { keepTabs?: boolean } = {}): string {
  // C0 and C1 controls, DEL, and the bidirectional overrides that reorder what a line appears to say.
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    if (c === '\t') return options.keepTabs ? c : ' ';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

export function createOutput(streams: CliStreams, options: { json: boolean; noColor: boolean }): Output {
  const human = options.json ? streams.stderr : streams.stdout;
  const colour = (stream: { isTTY?: boolean }) => stream.isTTY === true && !options.noColor;
  let active: Spinner | undefined;
  const write = (stream: NodeJS.WritableStream, text: string) => {
    active?.clear();
    stream.write(text);
  };
  return {
    json: options.json,
    line: (text = '') => write(human, `${text}\n`),
    note: (text) => write(streams.stderr, `${text}\n`),
    data: (value) => write(streams.stdout, `${JSON.stringify(value, null, 2)}\n`),
    paint: (style, text) => (colour(human) ? styleText(style, text) : text),
    spinner() {
      if (streams.stderr.isTTY !== true) return { update: () => undefined, clear: () => undefined, stop: () => undefined };
      const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
      let frame = 0;
      let text = '';
      let shown = false;
      const width = () => Math.max(20, ((streams.stderr as { columns?: number }).columns ?? 80) - 1);
      const draw = () => {
        if (text === '') return;
        const mark = colour(streams.stderr) ? styleText('cyan', frames[frame] as string) : (frames[frame] as string);
        streams.stderr.write(`\r\u001b[2K${mark} ${text.slice(0, width() - 2)}`);
        shown = true;
        frame = (frame + 1) % frames.length;
      };
      const timer = setInterval(draw, 100);
      timer.unref();
      const spinner: Spinner = {
        update(next) {
          text = clean(next);
          draw();
        },
        clear() {
          if (shown) streams.stderr.write('\r\u001b[2K');
          shown = false;
        },
        stop() {
          clearInterval(timer);
          spinner.clear();
          if (active === spinner) active = undefined;
        },
      };
      active = spinner;
      return spinner;
    },
  };
}

const visible = (text: string) => [...text].length;

/** Columns padded to their widest cell; `paint` colours a cell after padding so escapes do not skew widths. */
export function table(rows: ReadonlyArray<ReadonlyArray<string>>, paint: (row: number, column: number, text: string) => string = (_r, _c, t) => t): string[] {
  const cleaned = rows.map((row) => row.map((cell) => clean(cell)));
  const widths: number[] = [];
  for (const row of cleaned) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visible(cell))));
  return cleaned.map((row, r) =>
    row
      .map((cell, c) => {
        const padded = c === row.length - 1 ? cell : cell + ' '.repeat((widths[c] ?? 0) - visible(cell));
        return paint(r, c, padded);
      })
      .join('  ')
      .trimEnd(),
  );
}

/** `2026-12-02T09:00:00.000Z` → `2026-12-02 10:00` in this machine's time zone. */
export function shortDate(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return clean(iso);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}

/** `HH:MM:SS` now, for lines that say when something happened while a command waits. */
export function clock(now = new Date()): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(now.getHours())}:${two(now.getMinutes())}:${two(now.getSeconds())}`;
}
