/**
 * The `ringtrain` command line: `launch` (a whole run on this machine), `coordinator` and
 * `worker` (the parts, for runs across hosts), `plan` (the cost model's predictions).
 */
import { Command, CommanderError } from 'commander';
import { coordinatorCommand } from './commands/coordinator.ts';
import { launchCommand } from './commands/launch.ts';
import { planCommand } from './commands/plan.ts';
import { workerCommand } from './commands/worker.ts';

export function buildProgram(): Command {
  return new Command('ringtrain')
    .description('data-parallel ResNet training on Fashion-MNIST over WebSockets, with a ring all-reduce between workers')
    .showHelpAfterError('(run with --help for every option and its default)')
    .exitOverride()
    .addCommand(launchCommand())
    .addCommand(coordinatorCommand())
    .addCommand(workerCommand())
    .addCommand(planCommand());
}

/** Runs the command line; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.commands.forEach((c) => c.exitOverride());
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    const code = (error as { code?: string }).code;
    process.stderr.write(`ringtrain: ${(error as Error).message}${code === undefined ? '' : ` (${code})`}\n`);
    return 1;
  }
}
