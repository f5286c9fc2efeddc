/** Plain-text tables for the benchmarks' terminal output: a header, a rule, aligned columns. */

export interface TextTableOptions {
  /**
   * Columns from this index on are right-aligned (numbers); those before it are left-aligned.
   * @default 1
   */
  readonly firstNumericColumn?: number;
}

export function formatTextTable(header: readonly string[], body: readonly (readonly string[])[], options: TextTableOptions = {}): string {
  const firstNumeric = options.firstNumericColumn ?? 1;
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i >= firstNumeric ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
