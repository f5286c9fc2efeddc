/** Refusals of a bench's command-line values: the bench's name, the flag and the value, then exit 2. */
export function benchArguments(bench: string): {
  fail(message: string): never;
  /** A number above 0 (a whole one with `integer`), or a refusal naming `flag`. */
  positive(flag: string, text: string | undefined, integer: boolean): number;
} {
  const fail = (message: string): never => {
    process.stderr.write(`${bench}: ${message}\n`);
    process.exit(2);
  };
  return {
    fail,
    positive(flag, text, integer) {
      const value = Number(text);
      if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) fail(`${flag} must be ${integer ? 'whole numbers' : 'numbers'} above 0, got ${text}`);
      return value;
    },
  };
}
