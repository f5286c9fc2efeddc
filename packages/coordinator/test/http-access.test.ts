/**
 * The coordinator's HTTP surface behind a token of its own, over real sockets: 401 without it,
 * the bearer header for scripts and Prometheus, `/?token=` once for a browser (a cookie, and the
 * token gone from the address), `/healthz` open for probes; a token equal to the run's refused.
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { CoordinatorServer } from '../src/index.ts';
import { closeServers, images, startServer, TOKEN } from './server-harness.ts';

afterEach(closeServers);

const HTTP_TOKEN = 'http-token-of-the-dashboard-0123';

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
        // An event stream does not end: its first event is enough.
        if (res.headers['content-type']?.startsWith('text/event-stream') && body.includes('\n\n')) req.destroy();
      });
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', (e) => (e.message === 'socket hang up' ? undefined : reject(e)));
    req.end();
  });
}

describe('the HTTP surface with a token', () => {
  it('answers 401 without the token, and serves it with the bearer header', async () => {
    const { port } = await startServer({ httpToken: HTTP_TOKEN });
    for (const path of ['/', '/status', '/metrics', '/events', '/dashboard.js']) {
      const refused = await get(port, path);
      expect(refused.status, path).toBe(401);
      expect(refused.headers['www-authenticate']).toBe('Bearer realm="ringtrain"');
      expect(refused.body).toMatch(/wants its HTTP token/);
    }
    expect((await get(port, '/status', { authorization: 'Bearer not-it' })).status).toBe(401);
    const status = await get(port, '/status', { authorization: `Bearer ${HTTP_TOKEN}` });
    expect(status.status).toBe(200);
    expect(JSON.parse(status.body)).toMatchObject({ phase: 'rendezvous' });
    const metrics = await get(port, '/metrics', { authorization: `Bearer ${HTTP_TOKEN}` });
    expect(metrics.body).toMatch(/^ringtrain_connections_refused_total\{reason="bad_token"\} 0/m);
    expect((await get(port, '/healthz')).status).toBe(200);
  });

  it('lets a browser in with /?token= once: a cookie, and the token gone from the address', async () => {
    const { port } = await startServer({ httpToken: HTTP_TOKEN });
    expect((await get(port, '/?token=wrong')).status).toBe(401);
    const login = await get(port, `/?token=${HTTP_TOKEN}`);
    expect(login.status).toBe(303);
    expect(login.headers.location).toBe('/');
    const cookie = String(login.headers['set-cookie']).split(';')[0] ?? '';
    expect(String(login.headers['set-cookie'])).toMatch(/HttpOnly; SameSite=Strict; Path=\//);
    const page = await get(port, '/', { cookie });
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/<html/i);
    const events = await get(port, '/events', { cookie });
    expect(events.status).toBe(200);
    expect(events.body).toMatch(/^(event|data|retry)/m);
    expect((await get(port, '/status', { cookie: 'ringtrain_http_token=stale' })).status).toBe(401);
  });

  it('answers anyone without a token, and warns when it listens beyond loopback', async () => {
    const open = await startServer({});
    expect((await get(open.port, '/status')).status).toBe(200);
    const lines: string[] = [];
    await startServer({ host: '0.0.0.0' }, lines);
    expect(lines.some((l) => /answer anyone who reaches 0\.0\.0\.0:\d+; give them a token of their own/.test(l))).toBe(true);
    const quiet: string[] = [];
    await startServer({ host: '0.0.0.0', httpToken: HTTP_TOKEN }, quiet);
    expect(quiet.some((l) => l.includes('answer anyone'))).toBe(false);
  });

  it('refuses an HTTP token equal to the run token', () => {
    expect(() => new CoordinatorServer({ token: TOKEN, httpToken: TOKEN }, { data: { train: images(4), test: images(4) }, initialState: () => new Uint8Array(4) })).toThrow(
      /httpToken must differ from token/,
    );
  });
});
