/**
 * Structured logs (pino) on stderr, so stdout stays for progress and the summary.
 *
 * Two formats: `json`, one JSON object per line for log collectors, and `pretty`, the same
 * records laid out for a person (pino-pretty). `auto` picks `pretty` on a terminal and `json`
 * otherwise. Every line names its process: `name` is `coordinator` or `worker`, and a worker's
 * lines carry its `workerId` and its `rank` (null until the coordinator assigns one).
 */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export const LOG_FORMATS = ['auto', 'pretty', 'json'] as const;
export type LogFormatChoice = (typeof LOG_FORMATS)[number];
export type LogFormat = Exclude<LogFormatChoice, 'auto'>;

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  level: LogLevel;
  /** @default 'auto' */
  format?: LogFormatChoice;
  name: 'coordinator' | 'worker';
  /** Fields on every line, e.g. the worker's id. */
  base?: Record<string, unknown>;
  /** Fields computed for every line, e.g. a worker's rank, which it learns later. */
  mixin?: () => Record<string, unknown>;
  /**
   * Where the lines go; its `isTTY` decides `auto` and colours.
   * @default process.stderr
   */
  stream?: NodeJS.WriteStream;
}

/** `auto` resolved for `stream`: `pretty` on a terminal, `json` otherwise. */
export function resolveLogFormat(format: LogFormatChoice, stream: NodeJS.WriteStream = process.stderr): LogFormat {
  if (format !== 'auto') return format;
  return stream.isTTY === true ? 'pretty' : 'json';
}

export function createLogger(options: LoggerOptions): Logger {
  const stream = options.stream ?? process.stderr;
  const format = resolveLogFormat(options.format ?? 'auto', stream);
  const settings = {
    name: options.name,
    level: options.level,
    base: { pid: process.pid, ...options.base },
    ...(options.mixin === undefined ? {} : { mixin: options.mixin }),
  };
  if (format === 'json') return pino(settings, stream === process.stderr ? pino.destination({ fd: 2, sync: true }) : stream);
  return pino(
    settings,
    pretty({
      destination: stream === process.stderr ? 2 : stream,
      sync: true,
      // A launcher asks its children for colours with FORCE_COLOR when its own stderr is a terminal.
      colorize: stream.isTTY === true || process.env['FORCE_COLOR'] === '1',
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,name,workerId,rank',
      messageFormat: (log, messageKey) => `${prefixOf(log)} ${String(log[messageKey] ?? '')}`,
    }),
  );
}

/** `[coordinator]`, or `[rank 1 worker-0]` for a worker (`[rank - worker-0]` before it has one). */
function prefixOf(log: Record<string, unknown>): string {
  if (log['name'] !== 'worker') return `[${String(log['name'] ?? 'ringtrain')}]`;
  const rank = typeof log['rank'] === 'number' ? String(log['rank']) : '-';
  return `[rank ${rank} ${String(log['workerId'] ?? '?')}]`;
}
