/**
 * Configurations that cannot train well are refused before anything starts, with the flag or
 * option and the bound in the message: no coordinator port opened, no worker started.
 */
import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { runRingtrain } from './launch-helpers.ts';

async function refusal(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const run = runRingtrain(args, env);
  return run.exited;
}

describe('configurations refused before anything starts', () => {
  it('a launch whose --batch-size does not split over its --workers', async () => {
    const { code, stderr, stdout } = await refusal(['launch', '--workers', '2', '--batch-size', '255', '--port', '0']);
    expect(code).toBe(1);
    expect(stderr).toContain('--batch-size 255 does not split evenly over --workers 2 (127.50 each): use 254 or 256');
    expect(stdout).not.toMatch(/coordinator on ws:/);
  });

  it('a coordinator whose batch leaves a worker fewer than two images for batch norm', async () => {
    const { code, stderr, stdout } = await refusal(['coordinator', '--port', '0', '--min-workers', '1', '--batch-size', '1'], { RINGTRAIN_TOKEN: 'run-token-0123456789' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/globalBatchSize 1 over up to 1 workers \(maxWorkers\) leaves 1 image\(s\) per worker per step; batch norm needs at least 2/);
    expect(stdout).not.toMatch(/listening on/);
  });

  it('a launch whose workers and coordinator would not fit in this machine\'s memory', async () => {
    const { code, stderr, stdout } = await refusal(['launch', '--workers', '2', '--model', 'resnet152', '--width', '8', '--image-size', '1024', '--port', '0']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/ResNet-152 \(width ×8, 1024×1024, [\d.]+ M parameters\) at 128 images per worker needs about [\d.]+ GiB per worker; 2 worker\(s\) and the coordinator about [\d.]+ GiB, and this machine has [\d.]+ GiB/);
    expect(stderr).toMatch(/pass --no-memory-check/);
    expect(stdout).not.toMatch(/coordinator on ws:/);
  });

  it.each([
    [['--compression', 'zip'], /option '--compression <method>' argument 'zip' is invalid\. Allowed choices are none, bf16, f16, powersgd/],
    [['--powersgd-rank', '0'], /option '--powersgd-rank <r>' argument '0' is invalid\. Expected a whole number from 1 to 256/],
    [['--powersgd-start-step', '-1'], /option '--powersgd-start-step <step>' argument '-1' is invalid/],
    [['--delayed-allreduce', '--overlap'], /option '--delayed-allreduce' cannot be used with option '--overlap'/],
    // Before, every worker died writing its log and the launch waited minutes for replacements.
    [['--step-log-dir', '/dev/null/steps'], /--step-log-dir \/dev\/null\/steps cannot be created: ENOTDIR/],
  ])('a launch with %j, naming the flag', async (flags, message) => {
    const { code, stderr, stdout } = await refusal(['launch', '--port', '0', ...flags]);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(message);
    expect(stdout).not.toMatch(/coordinator on ws:/);
  });

  it.each([
    [['--target-accuracy', '0.9,1.5'], /option '--target-accuracy <list>' argument '0\.9,1\.5' is invalid\. expected test accuracies between 0 and 1/],
    [['--target-accuracy', '0.9,0.9'], /targetAccuracies lists 0\.9 twice/],
    [['--stop-at-target'], /stopAtTargetAccuracy needs targetAccuracies/],
    [['--alternate-flips'], /--alternate-flips needs --augment \(the recipe flips no image; give --augment or --no-alternate-flips\)/],
    [['--crop-padding', '2'], /--crop-padding needs --augment \(the recipe crops no image; give --augment or leave --crop-padding out\)/],
    [['--preset', 'fast', '--crop-padding', '20'], /--crop-padding 20 is more than half of --image-size 28 \(14\)/],
    [['--momentum', '0'], /--nesterov needs --momentum above 0 \(the recipe has momentum 0; give --momentum or --no-nesterov\)/],
    [['--label-smoothing', '1'], /option '--label-smoothing <eps>' argument '1' is invalid/],
  ])('a launch with the recipe flags %j, naming what is wrong', async (flags, message) => {
    const { code, stderr, stdout } = await refusal(['launch', '--workers', '2', '--port', '0', ...flags]);
    expect(code).toBe(1);
    expect(stderr).toMatch(message);
    expect(stdout).not.toMatch(/coordinator on ws:/);
  });

  // Each once kept its process alive after the error: the compute thread had already started.
  it('a worker whose --step-log cannot be written exits, naming the file', async () => {
    const { code, stderr } = await refusal(['worker', '--coordinator', 'ws://127.0.0.1:1', '--step-log', '/dev/null/steps.jsonl'], { RINGTRAIN_TOKEN: 'run-token-0123456789' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/--step-log \/dev\/null\/steps\.jsonl cannot be written: ENOTDIR/);
  });

  it('a worker whose --metrics-port is taken exits, naming the port', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as AddressInfo;
    try {
      const { code, stderr } = await refusal(['worker', '--coordinator', 'ws://127.0.0.1:1', '--metrics-port', String(port)], { RINGTRAIN_TOKEN: 'run-token-0123456789' });
      expect(code).toBe(1);
      expect(stderr).toContain(`cannot serve metrics on 127.0.0.1:${port}: the port is in use`);
    } finally {
      holder.close();
    }
  });

  it('a plan whose world sizes are no whole number of hosts, naming both flags', async () => {
    const { code, stderr } = await refusal(['plan', '--workers-per-host', '3']);
    expect(code).toBe(1);
    expect(stderr).toContain('--workers 8 is not a whole number of hosts of --workers-per-host 3');
  });

  it('a coordinator whose HTTP token is its run token', async () => {
    const { code, stderr } = await refusal(['coordinator', '--port', '0'], { RINGTRAIN_TOKEN: 'same-token-0123456789', RINGTRAIN_HTTP_TOKEN: 'same-token-0123456789' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/httpToken must differ from token/);
  });
});
