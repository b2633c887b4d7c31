// One option of a command line read without commander (the lean `tether run` and `tether exec`
// paths): a boolean flag, or a flag with its value (`--name value` or `--name=value`). Anything
// doubtful — an unknown flag, a value that is missing or looks like a flag — is undefined, so the
// caller hands the whole line to commander, which says what is wrong.

export type OptionRead<B extends string, V extends string> = { key: B; value: true; next: number } | { key: V; value: string; next: number };

/** Reads the option at `args[i]` (which starts with "-"); `next` is the index after it. */
export function readOption<B extends string, V extends string>(
  args: readonly string[],
  i: number,
  booleans: Readonly<Record<string, B>>,
  values: Readonly<Record<string, V>>,
): OptionRead<B, V> | undefined {
  const arg = args[i]!;
  const bool = booleans[arg];
  if (bool) return { key: bool, value: true, next: i + 1 };
  const eq = arg.indexOf("=");
  const name = eq > 0 && arg.startsWith("--") ? arg.slice(0, eq) : arg;
  const key = values[name];
  if (!key) return undefined;
  if (name !== arg) return { key, value: arg.slice(eq + 1), next: i + 1 };
  const value = args[i + 1];
  // A flag followed by another flag or nothing: let commander explain.
  if (value === undefined || value.startsWith("-")) return undefined;
  return { key, value, next: i + 2 };
}
