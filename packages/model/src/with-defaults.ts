/** `defaults` overridden by every field of `input` that is not undefined. */
export function withDefaults<T extends object>(defaults: T, input: Partial<T>): T {
  const given = Object.entries(input).filter(([, value]) => value !== undefined);
  return { ...defaults, ...Object.fromEntries(given) } as T;
}
