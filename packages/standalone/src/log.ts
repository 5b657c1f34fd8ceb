/** Log levels, most severe first. */
export type LogLevel = 'silent' | 'error' | 'warn' | 'info' | 'debug';

/** How entries are written: `pretty` human lines, `json` one JSON object a line, `auto` = pretty on a terminal. */
export type LogFormat = 'auto' | 'pretty' | 'json';

/** A logger writing one line per entry (stderr by default), in one format. Never give it headers, bodies or tokens. */
export interface Logger {
  error(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
  /** True when entries at `level` are written. */
  enabled(level: Exclude<LogLevel, 'silent'>): boolean;
  /** The format chosen (`auto` resolved). */
  readonly format: 'pretty' | 'json';
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Entries less severe than this are dropped. Default `info`. */
  level?: LogLevel;
  /** Default `auto`: `pretty` when the output is a terminal, else `json`. */
  format?: LogFormat;
  /** Where lines go (each ends with a newline). Default: stderr. */
  write?: (line: string) => void;
  /** Whether the output is a terminal (decides `auto`). Default: `process.stderr.isTTY` when writing to stderr. */
  isTTY?: boolean;
  /** Colour the level in pretty lines. Default: on a terminal, unless `NO_COLOR` is set. */
  color?: boolean;
  /** The clock of the timestamps (ms since the epoch). Default `Date.now`. */
  now?: () => number;
}

const RANK: Record<LogLevel, number> = { silent: 0, error: 1, warn: 2, info: 3, debug: 4 };
const COLORS: Record<Exclude<LogLevel, 'silent'>, string> = {
  error: '\u001b[31m',
  warn: '\u001b[33m',
  info: '\u001b[36m',
  debug: '\u001b[90m',
};

// Defence in depth: callers never pass credentials, but a field named like one, or a value shaped like
// a refresh token or a JWT, is masked in both formats before it can reach a terminal or a log store.
const SECRET_KEY = /(token|secret|password|passwd|authorization|cookie)$/i;
const REFRESH_TOKEN = /tsr_[A-Za-z0-9_-]{8,}/g;
const JWT = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const BEARER = /\b(Bearer|DPoP)\s+[A-Za-z0-9._~+/-]{8,}=*/gi;

/** Masks anything shaped like a Tessera refresh token, a JWT or a bearer credential in `text`. */
export function redactText(text: string): string {
  return text
    .replace(REFRESH_TOKEN, 'tsr_[redacted]')
    .replace(JWT, '[redacted jwt]')
    .replace(BEARER, '$1 [redacted]');
}

function redactValue(key: string, value: unknown): unknown {
  if (SECRET_KEY.test(key) && value !== null && value !== undefined) return '[redacted]';
  if (typeof value === 'string') return redactText(value);
  if (value instanceof Error) return redactText(value.message);
  if (Array.isArray(value)) return value.map((item) => redactValue('', item));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [name, inner] of Object.entries(value)) out[name] = redactValue(name, inner);
    return out;
  }
  return value;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** `HH:MM:SS.mmm` in local time: a terminal reader wants the wall clock, the JSON keeps epoch ms. */
function clockTime(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function prettyValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Creates a logger. One format at a time: `pretty` writes `time LEVEL message key=value …` lines for
 * people, `json` writes `{"level","time","msg",…fields}` lines for log collectors; `auto` picks pretty
 * on a terminal. Field values named like credentials (`…token`, `…secret`, `…password`, `authorization`,
 * `cookie`) and text shaped like a refresh token, a JWT or a bearer credential are masked in both.
 * @example
 * const log = createLogger({ level: 'warn' });
 * log.warn('Generated a new secret', { path: './.tessera/secret' });
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const isTTY = options.isTTY ?? (options.write === undefined && process.stderr.isTTY === true);
  const format =
    options.format === undefined || options.format === 'auto' ? (isTTY ? 'pretty' : 'json') : options.format;
  const color = options.color ?? (isTTY && !process.env.NO_COLOR);
  const now = options.now ?? Date.now;
  const at =
    (name: Exclude<LogLevel, 'silent'>) =>
    (message: string, fields: Record<string, unknown> = {}): void => {
      if (RANK[name] > RANK[level]) return;
      const safe = redactValue('', fields) as Record<string, unknown>;
      const msg = redactText(message);
      if (format === 'json') {
        write(`${JSON.stringify({ level: name, time: now(), msg, ...safe })}\n`);
        return;
      }
      const label = name.toUpperCase().padEnd(5);
      const tail = Object.entries(safe)
        .filter(([, value]) => value !== undefined)
        .map(([key, value]) => ` ${key}=${prettyValue(value)}`)
        .join('');
      write(`${clockTime(now())} ${color ? `${COLORS[name]}${label}\u001b[0m` : label} ${msg}${tail}\n`);
    };
  return {
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    enabled: (name) => RANK[name] <= RANK[level],
    format,
  };
}
