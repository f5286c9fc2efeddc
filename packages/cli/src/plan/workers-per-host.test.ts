import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { planCommand, planRows, streamsPerHostLink, type PlanFlags } from '../commands/plan.ts';

/** The plan flags as `ringtrain plan` parses them. */
function parse(args: string[]): PlanFlags {
  const command = planCommand().exitOverride().configureOutput({ writeErr: () => {} });
  command.action(() => {});
  new Command().addCommand(command).parse(['plan', ...args], { from: 'user' });
  return command.opts<PlanFlags>();
}

describe('workers per host in the plan', () => {
  it('count one stream per host link in host order, one per worker in join order, none on one host', () => {
    expect(streamsPerHostLink(8, 1, 'hosts')).toBe(1);
    expect(streamsPerHostLink(8, 4, 'hosts')).toBe(1);
    expect(streamsPerHostLink(8, 4, 'joined')).toBe(4);
    expect(streamsPerHostLink(4, 4, 'joined')).toBe(0);
    expect(() => streamsPerHostLink(6, 4, 'hosts')).toThrow('--workers 6 is not a whole number of hosts of --workers-per-host 4');
  });

  it('predict a join-order ring as one on a link shared by its streams', () => {
    const base = ['--models', 'resnet50', '--workers', '4', '--latency-ms', '0', '--compute-ms', 'resnet50=160', '--overlap', '0'];
    const joined = planRows(parse([...base, '--link-gbit', '1', '--workers-per-host', '2', '--ring-order', 'joined']));
    const halvedLink = planRows(parse([...base, '--link-gbit', '0.5']));
    const grouped = planRows(parse([...base, '--link-gbit', '1', '--workers-per-host', '2']));
    const oneEach = planRows(parse([...base, '--link-gbit', '1']));
    expect(joined[0]?.byOverlap[0]?.cost.stepMs).toBeCloseTo(halvedLink[0]?.byOverlap[0]?.cost.stepMs ?? 0, 9);
    expect(grouped[0]?.byOverlap[0]?.cost).toEqual(oneEach[0]?.byOverlap[0]?.cost);
  });
});
