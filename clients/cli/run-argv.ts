// `tether run`'s flags read without commander, for the start-up path: loading commander
// costs more than the rest of a short run's client side. Only plain, well-formed command
// lines are read here; anything else (--help, an unknown or malformed flag, a missing
// --env or command) returns undefined, and commander parses it and says what is wrong.
// Which client a run takes (leanEligible) is decided here too: the CLI's entry (entry.ts)
// asks before it loads either.
import { readDefaultEnv } from "./default-env.js";
import { readOption } from "./read-option.js";
import type { RunFlags } from "./run-command.js";

/** Flags that take a value, by their long name; the keys of RunFlags they fill. */
const VALUE_FLAGS: Record<string, keyof RunFlags> = {
  "--env": "env",
  "--token-file": "tokenFile",
  "--ca-file": "caFile",
  "--cwd": "cwd",
  "--env-var": "envVar",
  "--timeout": "timeout",
  "--sandbox": "sandbox",
  "--writable-root": "writableRoot",
  "--deny": "deny",
  "--network": "network",
  "--shell": "shell",
  "--decide": "decide",
};
const REPEATABLE = new Set<keyof RunFlags>(["envVar", "writableRoot", "deny"]);
const BOOLEAN_FLAGS: Record<string, "tty" | "verbose"> = { "-t": "tty", "--tty": "tty", "-v": "verbose", "--verbose": "verbose" };

/** `args` are the words after `tether`. The defaults are those main.ts gives commander. */
export function parseRunArgv(args: readonly string[]): { command: string[]; flags: RunFlags } | undefined {
  if (args[0] !== "run") return undefined;
  const flags: Partial<RunFlags> & Pick<RunFlags, "envVar" | "writableRoot" | "deny" | "shell" | "decide"> = {
    envVar: [],
    writableRoot: [],
    deny: [],
    shell: "direct",
    decide: "deny",
  };
  let i = 1;
  while (i < args.length) {
    const arg = args[i]!;
    if (arg === "--") {
      i++;
      break;
    }
    // The first word that is not an option starts the command (commander's passThroughOptions).
    if (!arg.startsWith("-") || arg === "-") break;
    const option = readOption(args, i, BOOLEAN_FLAGS, VALUE_FLAGS);
    if (!option) return undefined;
    if (REPEATABLE.has(option.key)) flags[option.key as "envVar"].push(option.value as string);
    else (flags as Record<string, unknown>)[option.key] = option.value;
    i = option.next;
  }
  const command = args.slice(i);
  if (command.length === 0) return undefined;
  if (flags.env === undefined) {
    // No --env: config's default_env, when it can be read cheaply; else commander's path loads the config.
    const found = readDefaultEnv();
    if (typeof found !== "object") return undefined;
    flags.env = found.env;
  }
  return { command, flags: { ...flags, env: flags.env } };
}

/** Flags that need the generated SandboxPolicy (and so the Environment path). */
export function hasSandboxFlags(flags: Pick<RunFlags, "sandbox" | "writableRoot" | "deny" | "network">): boolean {
  return Boolean(flags.sandbox || flags.writableRoot.length > 0 || flags.deny.length > 0 || flags.network);
}

/** An exec server the lean client can reach: the fast path. */
export function leanEligible(flags: Pick<RunFlags, "env" | "shell" | "sandbox" | "writableRoot" | "deny" | "network">): boolean {
  // TETHER_LEAN=0 takes the Environment path (grpc-js) instead: to compare, or to rule the lean client out.
  if (process.env.TETHER_LEAN === "0") return false;
  return /^(unix|grpcs?):\/\//.test(flags.env) && flags.shell === "direct" && !hasSandboxFlags(flags);
}
