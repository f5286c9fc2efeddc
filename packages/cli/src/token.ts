import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { Command, Option } from 'commander';
import { InvalidArgumentError, MissingTokenError } from './errors.ts';

/** The environment variable `coordinator` and `worker` read the token from when no flag gives it. */
export const TOKEN_ENV = 'RINGTRAIN_TOKEN';
/** The environment variable the coordinator reads its HTTP token from when --http-token-file is absent. */
export const HTTP_TOKEN_ENV = 'RINGTRAIN_HTTP_TOKEN';

export interface TokenFlags {
  token?: string;
  tokenFile?: string;
}

export interface HttpTokenFlags {
  httpTokenFile?: string;
}

/** `--http-token-file`: a bearer token for the dashboard, /status, /events and /metrics. */
export function addHttpTokenOption(command: Command): Command {
  return command.addOption(
    new Option(
      '--http-token-file <path>',
      `file holding a token that /, /status, /events and /metrics want (Authorization: Bearer, or open /?token=… in a browser); /healthz stays open (default: $${HTTP_TOKEN_ENV}, else none)`,
    ),
  );
}

/** The HTTP token from --http-token-file or RINGTRAIN_HTTP_TOKEN; undefined for none. */
export function findHttpToken(flags: HttpTokenFlags, env: NodeJS.ProcessEnv = process.env, warn: (text: string) => void = () => {}): string | undefined {
  if (flags.httpTokenFile !== undefined) return readTokenFile(flags.httpTokenFile, warn, '--http-token-file');
  const fromEnv = env[HTTP_TOKEN_ENV];
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

/** `--token-file` (the way) and `--token` (which the process list shows to every user). */
export function addTokenOptions(command: Command, what: string, otherwise: string): Command {
  return command
    .addOption(new Option('--token-file <path>', `file whose first line is ${what}; keep it mode 600 (default: ${otherwise})`))
    .addOption(new Option('--token <token>', `${what}, on the command line, where every user of this machine can read it in the process list (prefer --token-file)`));
}

/** A fresh random token for a launched run (256 bits, URL-safe). */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The token from --token, --token-file or RINGTRAIN_TOKEN, in that order; undefined when none
 * gives one. `warn` hears of a token on the command line and of a token file others may read.
 */
export function findToken(flags: TokenFlags, env: NodeJS.ProcessEnv = process.env, warn: (text: string) => void = () => {}): string | undefined {
  if (flags.token !== undefined && flags.tokenFile !== undefined) {
    throw new InvalidArgumentError('give the token once: --token or --token-file, not both');
  }
  if (flags.token !== undefined) {
    warn(`--token puts the run's secret in the process list, where every user of this machine can read it; use --token-file or $${TOKEN_ENV}`);
    return flags.token;
  }
  if (flags.tokenFile !== undefined) return readTokenFile(flags.tokenFile, warn);
  const fromEnv = env[TOKEN_ENV];
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

/** The token from --token, --token-file or RINGTRAIN_TOKEN; a clear error when none gives one. */
export function requireToken(flags: TokenFlags, env: NodeJS.ProcessEnv = process.env, warn: (text: string) => void = () => {}): string {
  const token = findToken(flags, env, warn);
  if (token === undefined || token === '') {
    throw new MissingTokenError(`a token is required: pass --token-file FILE or set ${TOKEN_ENV} (every worker of the run must use the same one)`);
  }
  return token;
}

function readTokenFile(path: string, warn: (text: string) => void, flag = '--token-file'): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
    const mode = statSync(path).mode;
    if ((mode & 0o077) !== 0) warn(`the token file ${path} can be read by other users (mode ${(mode & 0o777).toString(8)}); chmod 600 ${path}`);
  } catch (error) {
    const code = (error as { code?: string }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message;
    throw new InvalidArgumentError(`${flag} ${path}: cannot read it (${why})`);
  }
  const token = text.split(/\r?\n/, 1)[0]?.trim() ?? '';
  if (token === '') throw new InvalidArgumentError(`${flag} ${path}: its first line is empty; write the token there (e.g. openssl rand -hex 32 > ${path})`);
  return token;
}

/** `{ httpToken }` for the coordinator's options, or nothing. */
export function httpTokenOption(httpToken: string | undefined): { httpToken?: string } {
  return httpToken === undefined ? {} : { httpToken };
}
