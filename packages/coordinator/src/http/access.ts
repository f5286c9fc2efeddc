/**
 * Who may read the coordinator's HTTP surface. Without a token, anyone who reaches the port.
 * With one, `/`, its assets, `/status`, `/events` and `/metrics` want it, as
 * `Authorization: Bearer <token>` (Prometheus, scripts) or as the cookie a browser gets by
 * opening `/?token=<token>` once (an EventSource cannot send headers). `/healthz` and `/readyz`
 * stay open for probes; they tell only the phase and how many workers joined.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tokensEqual } from '../wire.ts';

const COOKIE = 'ringtrain_http_token';

export type AccessDecision = 'allowed' | 'answered';

export class HttpAccess {
  readonly #token: string | null;

  constructor(token: string | null) {
    this.#token = token === null || token === '' ? null : token;
  }

  /**
   * Lets the request through, or answers it: 401 without a valid token, and a redirect that
   * sets the cookie for `/?token=`.
   */
  check(req: IncomingMessage, res: ServerResponse, url: URL): AccessDecision {
    const token = this.#token;
    if (token === null || url.pathname === '/healthz' || url.pathname === '/readyz') return 'allowed';
    const offered = url.searchParams.get('token');
    if (offered !== null) {
      if (!tokensEqual(offered, token)) return refuse(res, 'the token in the address is wrong');
      // The token leaves the address bar (and the history) at once; the cookie carries it on.
      res
        .writeHead(303, {
          location: url.pathname,
          'set-cookie': `${COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`,
          'cache-control': 'no-store',
          'referrer-policy': 'no-referrer',
        })
        .end();
      return 'answered';
    }
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (bearer !== undefined) return tokensEqual(bearer, token) ? 'allowed' : refuse(res, 'the bearer token is wrong');
    const cookie = cookieValue(req.headers.cookie, COOKIE);
    if (cookie !== undefined) return tokensEqual(cookie, token) ? 'allowed' : refuse(res, 'the token cookie is wrong (open /?token=… again)');
    return refuse(res, 'this coordinator wants its HTTP token: send Authorization: Bearer <token>, or open /?token=<token> in a browser');
  }
}

function refuse(res: ServerResponse, why: string): 'answered' {
  res.writeHead(401, { 'www-authenticate': 'Bearer realm="ringtrain"', 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(`${why}\n`);
  return 'answered';
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return '';
    }
  }
  return undefined;
}
