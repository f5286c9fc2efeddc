import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { workerArguments } from '../src/commands/launch.ts';
import { createLogger, resolveLogFormat } from '../src/logging.ts';

/** A stream that collects what is written, posing as a terminal or not. */
function capture(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { stream: Object.assign(stream, { isTTY }) as unknown as NodeJS.WriteStream, text: () => text };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('logs', () => {
  it('resolve auto to pretty on a terminal and to json otherwise; an explicit format always wins', () => {
    expect(resolveLogFormat('auto', capture(true).stream)).toBe('pretty');
    expect(resolveLogFormat('auto', capture(false).stream)).toBe('json');
    expect(resolveLogFormat('json', capture(true).stream)).toBe('json');
    expect(resolveLogFormat('pretty', capture(false).stream)).toBe('pretty');
  });

  it("write one JSON object per line, each worker line with its worker id and its rank once it has one", async () => {
    const out = capture(false);
    let rank: number | null = null;
    const logger = createLogger({ level: 'info', format: 'auto', name: 'worker', base: { workerId: 'w-3' }, mixin: () => ({ rank }), stream: out.stream });
    logger.info({}, 'waiting for an assignment');
    rank = 2;
    logger.warn({ step: 7 }, 'slow step');
    logger.debug({}, 'below the level');
    await settle();
    const lines = out
      .text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 30, name: 'worker', workerId: 'w-3', rank: null, msg: 'waiting for an assignment' });
    expect(lines[1]).toMatchObject({ level: 40, name: 'worker', workerId: 'w-3', rank: 2, step: 7, msg: 'slow step' });
    expect(typeof lines[1]?.['time']).toBe('number');
  });

  it('lay lines out for people in the pretty format, naming the worker and its rank in front', async () => {
    const out = capture(false);
    let rank: number | null = null;
    const logger = createLogger({ level: 'info', format: 'pretty', name: 'worker', base: { workerId: 'w-3' }, mixin: () => ({ rank }), stream: out.stream });
    logger.info({}, 'joined the coordinator');
    rank = 0;
    logger.error({ code: 'RINGTRAIN_X' }, 'the ring broke');
    const coordinator = createLogger({ level: 'info', format: 'pretty', name: 'coordinator', stream: out.stream });
    coordinator.info({}, 'listening');
    await settle();
    const text = out.text();
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: \[rank - w-3\] joined the coordinator$/m);
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] ERROR: \[rank 0 w-3\] the ring broke$/m);
    expect(text).toMatch(/^ {4}code: "RINGTRAIN_X"$/m);
    expect(text).toMatch(/INFO: \[coordinator\] listening$/m);
    expect(text).not.toContain('{"level"');
  });
});

describe('the workers of a launch', () => {
  const flags = { backend: 'wasm' as const, host: '127.0.0.1', workerMetricsPortBase: 9100, stepLogDir: undefined, workers: 3 };

  it('tell each worker how many share the machine, so that their thread pools split the cores', () => {
    const args = workerArguments(flags, 0, 'ws://127.0.0.1:7070', { level: 'warn', format: 'json' });
    expect(args[args.indexOf('--workers-per-machine') + 1]).toBe('3');
  });

  it('log at the launcher\'s level in the format the launcher resolved, not in what their pipe would choose', () => {
    const args = workerArguments(flags, 1, 'ws://127.0.0.1:7070', { level: 'warn', format: 'pretty' });
    expect(args.slice(args.indexOf('--log-level'), args.indexOf('--log-level') + 4)).toEqual(['--log-level', 'warn', '--log-format', 'pretty']);
    expect(args.slice(0, 3)).toEqual(['worker', '--coordinator', 'ws://127.0.0.1:7070']);
    expect(args[args.indexOf('--worker-id') + 1]).toBe('worker-1');
  });

  it.each([
    [9100, 0, '9100'],
    [9100, 3, '9103'],
    [0, 3, '0'],
  ])('with a metrics port base of %i, worker %i serves its metrics on port %s', (base, index, port) => {
    const args = workerArguments({ ...flags, workerMetricsPortBase: base }, index, 'ws://127.0.0.1:7070', { level: 'info', format: 'json' });
    expect(args[args.indexOf('--metrics-port') + 1]).toBe(port);
    expect(args[args.indexOf('--metrics-host') + 1]).toBe('127.0.0.1');
  });
});
