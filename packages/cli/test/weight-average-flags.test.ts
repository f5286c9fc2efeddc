import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { describeRecipe, PRESETS } from '../src/recipes.ts';
import { addTrainingOptions, coordinatorOptionsFrom, recipeOf, type TrainingFlags } from '../src/training-options.ts';

const token = 'a-token-of-enough-length';

/** The training flags as `launch` and `coordinator` parse them. */
function parse(args: string[]): TrainingFlags {
  const command = addTrainingOptions(new Command('train').exitOverride().configureOutput({ writeErr: () => {} }));
  command.parse(args, { from: 'user' });
  return command.opts<TrainingFlags>();
}

describe('the weight-average flags', () => {
  it('keep no average unless asked, with or without a preset', () => {
    for (const args of [[], ['--preset', 'fast'], ['--preset', 'd2l']]) {
      const options = coordinatorOptionsFrom(parse(args), token, 'f32');
      expect(options.emaDecay, args.join(' ')).toBe(0);
      expect(options.emaWarmup, args.join(' ')).toBe(false);
    }
    expect(PRESETS.fast.recipe.emaDecay).toBeUndefined();
  });

  it.each([
    { args: ['--ema-decay', '0.999'], decay: 0.999, warmup: false },
    { args: ['--preset', 'fast', '--ema-decay', '0.99', '--ema-warmup'], decay: 0.99, warmup: true },
  ])('pass $args to the coordinator options and the recipe line', ({ args, decay, warmup }) => {
    const flags = parse(args);
    const options = coordinatorOptionsFrom(flags, token, 'f32');
    expect(options.emaDecay).toBe(decay);
    expect(options.emaWarmup).toBe(warmup);
    expect(describeRecipe(recipeOf(flags), flags.preset)).toContain(`weight EMA ${decay}${warmup ? ' with warm-up' : ''}`);
  });

  it.each(['-0.1', '1.5', 'x'])('refuse --ema-decay %s, naming the flag and its bounds', (value) => {
    expect(() => parse(['--ema-decay', value])).toThrow(`option '--ema-decay <d>' argument '${value}' is invalid. Expected a number of at least 0 and at most 1.`);
  });

  it('refuse --ema-warmup without --ema-decay', () => {
    expect(() => coordinatorOptionsFrom(parse(['--ema-warmup']), token, 'f32')).toThrow('--ema-warmup needs --ema-decay above 0');
  });
});
