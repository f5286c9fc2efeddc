import { describe, expect, it } from 'vitest';
import { ConnectionLifecycle, IllegalTransitionError, type ConnectionState } from '../src/index.ts';

function at(path: ConnectionState[]): ConnectionLifecycle {
  const lifecycle = new ConnectionLifecycle();
  for (const state of path) lifecycle.moveTo(state, 'test');
  return lifecycle;
}

describe('the coordinator connection lifecycle', () => {
  it('starts connecting and walks through a whole run', () => {
    const lifecycle = new ConnectionLifecycle();
    expect(lifecycle.state).toBe('connecting');
    for (const state of ['ready', 'in-round', 'ready', 'in-round', 'ready', 'draining', 'closed'] as const) lifecycle.moveTo(state, 'run');
    expect(lifecycle.state).toBe('closed');
    expect(lifecycle.transitions).toHaveLength(7);
  });

  it.each([
    [[], 'in-round'],
    [['ready'], 'connecting'],
    [['ready', 'in-round'], 'in-round'],
    [['ready', 'draining'], 'ready'],
    [['ready', 'draining'], 'in-round'],
    [['closed'], 'ready'],
    [['closed'], 'closed'],
    [['ready', 'reconnecting'], 'ready'],
    [['ready', 'reconnecting'], 'in-round'],
  ] as [ConnectionState[], ConnectionState][])('refuses to go from the end of %j to %s', (path, to) => {
    const lifecycle = at(path);
    const from = lifecycle.state;
    expect(() => lifecycle.moveTo(to, 'test')).toThrow(IllegalTransitionError);
    expect(() => lifecycle.moveTo(to, 'test')).toThrow(`cannot go from ${from} to ${to}`);
    expect(lifecycle.state).toBe(from);
  });

  it('goes back to connecting after losing its coordinator, and on to ready', () => {
    const lifecycle = at(['ready', 'in-round', 'reconnecting', 'connecting', 'ready']);
    expect(lifecycle.state).toBe('ready');
  });

  it('may close from every state but closed', () => {
    for (const path of [[], ['ready'], ['ready', 'in-round'], ['ready', 'draining']] as ConnectionState[][]) {
      expect(at(path).canMoveTo('closed')).toBe(true);
    }
  });
});
