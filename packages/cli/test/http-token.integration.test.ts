/**
 * The dashboard behind an HTTP token, in Debian's Chromium: a coordinator started with
 * --http-token-file refuses the page without the token; opened once at /?token=…, the page
 * loads, the token leaves the address, and the live status streams in on the cookie (an
 * EventSource sends no headers). Prometheus-style clients send the bearer header.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type HeadlessChromium } from './browser.ts';
import { runRingtrain, type RunningCommand } from './launch-helpers.ts';

const HTTP_TOKEN = 'dashboard-token-0123456789abcdef';

interface DashboardPage {
  ringtrainDashboard?: { updates: number; status: { phase: string } | null };
  location: { href: string };
}

describe('the dashboard behind an HTTP token', () => {
  let dir: string;
  let coordinator: RunningCommand;
  let base: string;
  let browser: HeadlessChromium | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ringtrain-http-token-'));
    const tokenFile = join(dir, 'http-token');
    await writeFile(tokenFile, `${HTTP_TOKEN}\n`);
    await chmod(tokenFile, 0o600);
    coordinator = runRingtrain(
      ['coordinator', '--port', '0', '--min-workers', '2', '--limit-train', '256', '--limit-test', '64', '--http-token-file', tokenFile, '--log-format', 'json'],
      { RINGTRAIN_TOKEN: 'run-token-0123456789abcdef' },
    );
    base = (await coordinator.url).replace('ws://', 'http://');
  });

  afterAll(async () => {
    await browser?.close();
    coordinator?.kill('SIGTERM');
    await coordinator?.exited;
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('refuses the page and the status without the token, and serves them with the bearer header', async () => {
    const refused = await fetch(`${base}/status`);
    expect(refused.status).toBe(401);
    expect(await refused.text()).toMatch(/Authorization: Bearer <token>/);
    const status = await fetch(`${base}/status`, { headers: { authorization: `Bearer ${HTTP_TOKEN}` } });
    expect(status.status).toBe(200);
    expect(((await status.json()) as { phase: string }).phase).toBe('rendezvous');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('lets Chromium in with /?token= once, drops the token from the address and streams the status on the cookie', async () => {
    browser = await launchChromium();
    const page = await browser.context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    const bare = await page.goto(`${base}/`);
    expect(bare?.status()).toBe(401);
    await page.goto(`${base}/?token=${HTTP_TOKEN}`);
    expect(page.url()).toBe(`${base}/`);
    await page.waitForFunction(() => ((globalThis as unknown as DashboardPage).ringtrainDashboard?.updates ?? 0) > 0, undefined, { timeout: 30_000 });
    const phase = await page.evaluate(() => (globalThis as unknown as DashboardPage).ringtrainDashboard?.status?.phase);
    expect(phase).toBe('rendezvous');
    expect(problems).toEqual([]);
    const cookies = await browser.context.cookies(base);
    expect(cookies.find((c) => c.name === 'ringtrain_http_token')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
  });
});
