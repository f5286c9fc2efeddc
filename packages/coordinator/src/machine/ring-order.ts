/**
 * The order of the ring. Rank r sends only to rank r+1, so every pair of neighbours that sit on
 * different hosts is one stream across the network, carrying 2(N−1)/N of the gradient per step.
 * With the members of each host side by side the ring crosses from host to host once per host: a
 * host sends one stream and receives one however many workers it runs, and the hops among its own
 * workers stay inside the host. Interleaved (as join order may leave them), a host of k workers
 * can carry k streams each way.
 *
 * Groups keep the order of their first member in `members`, and members their order within a
 * group: the ranks that stay keep their order (and rank 0 stays rank 0), and a newcomer is put
 * after the last member of its group.
 */
export function groupedByHost<T>(members: readonly T[], hostGroupOf: (member: T) => string): T[] {
  const groups = new Map<string, T[]>();
  for (const member of members) {
    const key = hostGroupOf(member);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [member]);
    else group.push(member);
  }
  return [...groups.values()].flat();
}

/** How many links of a ring in this order join two different hosts (0 for a ring on one host). */
export function hostCrossings<T>(ring: readonly T[], hostGroupOf: (member: T) => string): number {
  let crossings = 0;
  ring.forEach((member, rank) => {
    if (hostGroupOf(member) !== hostGroupOf(ring[(rank + 1) % ring.length] as T)) crossings += 1;
  });
  return crossings;
}
