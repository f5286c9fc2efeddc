/**
 * Enough of a Dockerfile parser to check one: instructions with their continuation lines
 * joined, ARG defaults substituted into FROM, stages by name, and the sources of COPY/ADD.
 */

export interface Instruction {
  keyword: string;
  /** The rest of the line, continuation lines joined. */
  args: string;
  line: number;
}

export interface Stage {
  /** The image or earlier stage it starts from, with ARG defaults substituted. */
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

export interface CopySource {
  line: number;
  /** The stage or image given with --from, if any. */
  from: string | undefined;
  sources: string[];
  destination: string;
}

export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i]!.trim();
    if (first === '' || first.startsWith('#')) continue;
    const start = i;
    let joined = first;
    while (joined.endsWith('\\') && i + 1 < lines.length) {
      i++;
      const next = lines[i]!.trim();
      joined = joined.slice(0, -1) + (next.startsWith('#') ? '' : ` ${next}`);
    }
    const match = /^(\S+)\s*(.*)$/s.exec(joined)!;
    instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: start + 1 });
  }
  return instructions;
}

/** Splits instructions into stages; ARGs before the first FROM are substituted into FROM lines. */
export function stagesOf(instructions: readonly Instruction[]): Stage[] {
  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [image, as, name] = instruction.args.split(/\s+/);
      const from = image!.replace(
        /\$\{(\w+)\}|\$(\w+)/g,
        (_m, a: string | undefined, b: string | undefined) => globalArgs.get((a ?? b)!) ?? '',
      );
      stages.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword === 'ARG') {
        const [key, value] = instruction.args.split('=', 2);
        globalArgs.set(key!.trim(), value?.trim() ?? '');
      }
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return stages;
}

/** The sources of a COPY or ADD, with its --from. */
export function copySources(instruction: Instruction): CopySource {
  let rest = instruction.args;
  let from: string | undefined;
  for (;;) {
    const flag = /^--([a-z-]+)(?:=(\S+))?\s+/.exec(rest);
    if (flag === null) break;
    if (flag[1] === 'from') from = flag[2];
    rest = rest.slice(flag[0].length);
  }
  const parts = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/);
  return { line: instruction.line, from, sources: parts.slice(0, -1), destination: parts.at(-1)! };
}
