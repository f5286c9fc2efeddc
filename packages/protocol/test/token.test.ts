import { describe, expect, it } from 'vitest';
import { tokensEqual } from '../src/index.ts';

describe('tokensEqual', () => {
  it('accepts the same token', () => {
    expect(tokensEqual('correct horse battery staple', 'correct horse battery staple')).toBe(true);
  });

  it.each([
    ['a different token of the same length', 'correct horse battery stapla'],
    ['a prefix of the token', 'correct horse'],
    ['a longer token', 'correct horse battery staple!'],
    ['an empty token', ''],
  ])('refuses %s', (_name, presented) => {
    expect(tokensEqual(presented, 'correct horse battery staple')).toBe(false);
  });

  it('compares characters, not bytes of one encoding against another', () => {
    expect(tokensEqual('naïve', 'naïve')).toBe(true);
    expect(tokensEqual('naïve', 'naive')).toBe(false);
  });
});
