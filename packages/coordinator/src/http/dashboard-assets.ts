/**
 * The files of the dashboard, served by the coordinator itself so the page works without
 * internet access: the page, its script and style from `src/dashboard/`, and uPlot's
 * distribution files from `node_modules`. Each is read from disk once, on first request.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  contentType: string;
  body: Buffer;
}

const DASHBOARD_DIR = fileURLToPath(new URL('../dashboard/', import.meta.url));
const UPLOT_DIST = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');

/** URL path -> file and content type. */
const FILES: Record<string, { path: string; contentType: string }> = {
  '/': { path: join(DASHBOARD_DIR, 'index.html'), contentType: 'text/html; charset=utf-8' },
  '/dashboard.js': { path: join(DASHBOARD_DIR, 'dashboard.js'), contentType: 'text/javascript; charset=utf-8' },
  '/dashboard.css': { path: join(DASHBOARD_DIR, 'dashboard.css'), contentType: 'text/css; charset=utf-8' },
  '/favicon.svg': { path: join(DASHBOARD_DIR, 'favicon.svg'), contentType: 'image/svg+xml' },
  '/vendor/uPlot.iife.min.js': { path: join(UPLOT_DIST, 'uPlot.iife.min.js'), contentType: 'text/javascript; charset=utf-8' },
  '/vendor/uPlot.min.css': { path: join(UPLOT_DIST, 'uPlot.min.css'), contentType: 'text/css; charset=utf-8' },
};

/** The URL paths of the dashboard's files. */
export const DASHBOARD_PATHS: readonly string[] = Object.freeze(Object.keys(FILES));

const cache = new Map<string, Asset>();

/** The asset served at `urlPath`, or undefined when there is none. */
export function dashboardAsset(urlPath: string): Asset | undefined {
  const file = FILES[urlPath === '/index.html' ? '/' : urlPath];
  if (file === undefined) return undefined;
  let asset = cache.get(file.path);
  if (asset === undefined) {
    asset = { contentType: file.contentType, body: readFileSync(file.path) };
    cache.set(file.path, asset);
  }
  return asset;
}
