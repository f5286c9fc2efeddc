/** Logs go to stderr as JSON lines (pino), so stdout stays for progress and the summary. */
import { pino, type Logger } from 'pino';

export function createLogger(level: string, name: string): Logger {
  return pino({ name, level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
}
