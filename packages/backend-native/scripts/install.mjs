// Builds the oneDNN addon at install time, and never fails the install.
//
//   node scripts/install.mjs             npm's `install` script: builds when oneDNN's headers
//                                        are present, else prints one line and exits 0
//   node scripts/install.mjs --required  the same, but exits 1 when the addon cannot be built
//
// The build is node-gyp's, offline: Node's headers come from the running Node's own prefix
// (or npm_config_nodedir), never from a download. Whatever happens is recorded in
// build/install-status.json, which the backend quotes when it reports itself unavailable; the
// compiler output of a failed build is kept in build/install.log.
//
// RINGTRAIN_DNNL_HEADER names the dnnl.h whose presence decides whether to build, instead of the
// standard locations (the tests point it at a missing file to exercise the fallback).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = '@ringtrain/backend-native';
const FIX = 'apt-get install libdnnl-dev, then npm rebuild @ringtrain/backend-native';
const HEADER_CANDIDATES = process.env.RINGTRAIN_DNNL_HEADER
  ? [process.env.RINGTRAIN_DNNL_HEADER]
  : ['/usr/include/oneapi/dnnl/dnnl.h', '/usr/local/include/oneapi/dnnl/dnnl.h'];

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const buildDir = join(packageDir, 'build');
const required = process.argv.includes('--required');

function record(built, reason) {
  mkdirSync(buildDir, { recursive: true });
  writeFileSync(join(buildDir, 'install-status.json'), `${JSON.stringify({ built, reason }, null, 2)}\n`);
}

function skip(reason) {
  record(false, reason);
  console.log(`${PACKAGE}: native backend not built: ${reason}; to enable it: ${FIX}`);
  process.exit(required ? 1 : 0);
}

function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  try {
    candidates.push(createRequire(join(packageDir, 'package.json')).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed as a package; npm's bundled copy below
  }
  if (process.env.npm_execpath) candidates.push(resolve(dirname(process.env.npm_execpath), '../node_modules/node-gyp/bin/node-gyp.js'));
  const npmPrefix = resolve(dirname(process.execPath), '..');
  candidates.push(join(npmPrefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'));
  candidates.push('/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  candidates.push('/usr/share/nodejs/node-gyp/bin/node-gyp.js');
  return candidates.find((path) => existsSync(path));
}

// A directory whose include/node holds the running Node's headers, so node-gyp needs no download.
function findNodeDir() {
  const candidates = [process.env.npm_config_nodedir, resolve(dirname(process.execPath), '..'), '/usr', '/usr/local'];
  return candidates.find((dir) => dir && existsSync(join(dir, 'include/node/node_api.h')) && existsSync(join(dir, 'include/node/common.gypi')));
}

const header = HEADER_CANDIDATES.find((path) => existsSync(path));
if (header === undefined) skip(`oneDNN headers not found (${HEADER_CANDIDATES[0]})`);

const nodeGyp = findNodeGyp();
if (nodeGyp === undefined) skip('node-gyp not found (it ships with npm)');

const args = [nodeGyp, 'rebuild', '--release'];
const nodeDir = findNodeDir();
if (nodeDir !== undefined) args.push(`--nodedir=${nodeDir}`);

const result = spawnSync(process.execPath, args, { cwd: packageDir, encoding: 'utf8', env: process.env });
if (result.status !== 0) {
  const log = `${result.stdout ?? ''}\n${result.stderr ?? ''}`;
  mkdirSync(buildDir, { recursive: true });
  writeFileSync(join(buildDir, 'install.log'), log);
  const firstError = log.split('\n').find((line) => /error/i.test(line) && !line.startsWith('gyp info')) ?? `node-gyp exited with ${result.status}`;
  skip(`the addon failed to compile (${firstError.trim()}; full log in ${join(buildDir, 'install.log')})`);
}
record(true, 'built');
console.log(`${PACKAGE}: built the oneDNN addon (${header})`);
