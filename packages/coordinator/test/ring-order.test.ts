import { describe, expect, it } from 'vitest';
import { groupedByHost, hostCrossings } from '../src/machine/ring-order.ts';

const host = (name: string): string => name.slice(0, 1);

describe('the ring grouped by host', () => {
  it('puts each host\'s members side by side, hosts in the order of their first member, members in theirs', () => {
    expect(groupedByHost(['a1', 'b1', 'c1', 'a2', 'b2', 'a3'], host)).toEqual(['a1', 'a2', 'a3', 'b1', 'b2', 'c1']);
  });

  it('leaves an order that is grouped already as it is', () => {
    expect(groupedByHost(['b1', 'b2', 'a1'], host)).toEqual(['b1', 'b2', 'a1']);
  });

  it('counts the links of the ring, the closing one included, that join two hosts', () => {
    expect(hostCrossings(['a1', 'b1', 'a2', 'b2'], host)).toBe(4);
    expect(hostCrossings(['a1', 'a2', 'b1', 'b2'], host)).toBe(2);
    expect(hostCrossings(['a1', 'a2', 'a3'], host)).toBe(0);
    expect(hostCrossings(['a1'], host)).toBe(0);
    expect(hostCrossings([], host)).toBe(0);
  });
});
