/**
 * The options `launch` and `coordinator` share about membership: how a lost or silent worker is
 * noticed, what a straggler does to the run, how long the run waits below its minimum, and how
 * the batch follows a world that changes size, and how the ring is ordered.
 */
import { Command, Option } from 'commander';
import type { CoordinatorOptions } from '@ringtrain/coordinator';
import { integerIn } from './arguments.ts';

export interface MembershipFlags {
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  firstStepHeartbeatTimeoutMs: number;
  stallWarningMs: number;
  stallTimeoutMs: number;
  onStall: 'fail' | 'evict';
  minWorkersWaitMs: number;
  batchScaling: 'fixed-global' | 'fixed-per-worker';
  ringOrder: 'hosts' | 'joined';
  stepLog?: string;
}

export function addMembershipOptions(command: Command): Command {
  return command
    .addOption(new Option('--heartbeat-interval-ms <ms>', 'ping every worker this often').argParser(integerIn(10)).default(1000))
    .addOption(new Option('--heartbeat-timeout-ms <ms>', 'a worker silent this long is lost and the run goes on without it (a dead process is noticed at once)').argParser(integerIn(10)).default(8000))
    .addOption(
      new Option('--first-step-heartbeat-timeout-ms <ms>', 'the heartbeat timeout, before its first step, of a worker run with --no-compute-thread (its steps answer no ping)').argParser(integerIn(10)).default(60_000),
    )
    .addOption(new Option('--stall-warning-ms <ms>', 'name the ranks a step waits on after this long').argParser(integerIn(1)).default(60_000))
    .addOption(new Option('--stall-timeout-ms <ms>', 'a step that waits this long evicts or fails the ranks it waits on, see --on-stall (0: never)').argParser(integerIn(0)).default(1_800_000))
    .addOption(new Option('--on-stall <action>', 'what a rank past --stall-timeout-ms does: evict it so the rest go on, or fail the run').choices(['evict', 'fail']).default('evict'))
    .addOption(new Option('--min-workers-wait-ms <ms>', 'after the start, wait this long with fewer than --min-workers for replacements before failing').argParser(integerIn(0)).default(300_000))
    .addOption(
      new Option('--batch-scaling <rule>', 'when the world changes size, keep the global batch (fixed-global) or each worker\'s batch, scaling the learning rate linearly (fixed-per-worker)')
        .choices(['fixed-global', 'fixed-per-worker'])
        .default('fixed-global'),
    )
    .addOption(
      new Option('--ring-order <order>', 'hosts: the workers of each host group (a worker\'s --host-group) side by side, so each host\'s link carries one stream; joined: ranks in join order')
        .choices(['hosts', 'joined'])
        .default('hosts'),
    )
    .addOption(new Option('--step-log <file>', 'append every committed step (each rank\'s sample indices) to FILE as JSON lines, as it commits'));
}

export function membershipOptionsFrom(flags: MembershipFlags): Partial<CoordinatorOptions> {
  return {
    heartbeatIntervalMs: flags.heartbeatIntervalMs,
    heartbeatTimeoutMs: flags.heartbeatTimeoutMs,
    firstStepHeartbeatTimeoutMs: flags.firstStepHeartbeatTimeoutMs,
    stallWarningMs: flags.stallWarningMs,
    stallTimeoutMs: flags.stallTimeoutMs,
    onStall: flags.onStall,
    minWorkersWaitMs: flags.minWorkersWaitMs,
    batchScaling: flags.batchScaling,
    ringOrder: flags.ringOrder,
    ...(flags.stepLog === undefined ? {} : { stepLog: flags.stepLog }),
  };
}
