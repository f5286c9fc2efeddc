import { randomBytes } from 'node:crypto';
import { MissingTokenError } from './errors.ts';

/** The environment variable `coordinator` and `worker` read the token from when --token is absent. */
export const TOKEN_ENV = 'RINGTRAIN_TOKEN';

/** A fresh random token for a launched run (256 bits, URL-safe). */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The token from --token or RINGTRAIN_TOKEN; a clear error when neither is set. */
export function requireToken(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const token = flag ?? env[TOKEN_ENV];
  if (token === undefined || token === '') {
    throw new MissingTokenError(`a token is required: pass --token T or set ${TOKEN_ENV} (every worker of the run must use the same one)`);
  }
  return token;
}
