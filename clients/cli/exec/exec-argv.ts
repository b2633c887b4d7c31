// `tether exec PROMPT`'s flags read without commander, for the start-up path: loading
// commander and building the whole program costs ≈ 20 ms before the first model request
// (issue 15). Only plain, well-formed command lines are read here — `tether exec [PROMPT]` and
// `tether exec resume (--last [--all] | ID) [PROMPT]`; anything else (--help, --agent,
// --ephemeral, an unknown or malformed flag, a second prompt, resume with no thread) returns
// undefined, and commander parses it (program.ts) and says what is wrong. exec-argv.test.ts
// checks that both read every accepted line alike.
import { readOption } from "../read-option.js";
import type { ExecFlags, ResumeTarget } from "./exec-command.js";

type ListKey = "config" | "enable" | "disable" | "addDir";
type ValueKey = "model" | "env" | "tokenFile" | "caFile" | "sandbox" | "cwd" | "cd" | "profile" | "outputLastMessage" | "outputSchema";
type BoolKey = "json" | "dangerouslyBypassApprovalsAndSandbox" | "skipGitRepoCheck";

/** Flags that take a value, by name; the keys of ExecFlags they fill (as program.ts's options do). */
const VALUE_FLAGS: Record<string, ValueKey | ListKey> = {
  "-m": "model",
  "--model": "model",
  "--env": "env",
  "--token-file": "tokenFile",
  "--ca-file": "caFile",
  "-s": "sandbox",
  "--sandbox": "sandbox",
  "-C": "cwd",
  "--cwd": "cwd",
  "--cd": "cd",
  "--add-dir": "addDir",
  "-c": "config",
  "--config": "config",
  "-p": "profile",
  "--profile": "profile",
  "--enable": "enable",
  "--disable": "disable",
  "-o": "outputLastMessage",
  "--output-last-message": "outputLastMessage",
  "--output-schema": "outputSchema",
};
const LISTS = new Set<string>(["config", "enable", "disable", "addDir"]);
const BOOLEAN_FLAGS: Record<string, BoolKey> = {
  "--json": "json",
  "--dangerously-bypass-approvals-and-sandbox": "dangerouslyBypassApprovalsAndSandbox",
  "--skip-git-repo-check": "skipGitRepoCheck",
};

export type LeanExecFlags = ExecFlags & { skipGitRepoCheck?: boolean };

export function isExecCommand(word: string | undefined): boolean {
  return word === "exec" || word === "e";
}

/** `exec resume`'s own flags (commander keeps them in the flags too). */
const RESUME_FLAGS: Record<string, "last" | "all"> = { "--last": "last", "--all": "all" };

export interface PlainExec {
  prompt: string | undefined;
  flags: LeanExecFlags;
  resume?: ResumeTarget;
}

/** `args` are the words after `tether`; undefined: not a plain `tether exec [PROMPT]` or `tether exec resume …` (or `e`, Codex's alias). */
export function parseExecArgv(args: readonly string[]): PlainExec | undefined {
  if (!isExecCommand(args[0])) return undefined;
  // commander's defaults for the repeatable flags.
  const flags: Record<string, unknown> = { addDir: [], config: [], enable: [], disable: [] };
  const operands: string[] = [];
  // `resume` as the first word that is no flag: a subcommand whose flags add to exec's (program.ts's mergeFlags).
  let resume = false;
  for (let i = 1; i < args.length; ) {
    const arg = args[i]!;
    if (arg === "--") {
      if (resume) return undefined; // commander's to read
      operands.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      if (arg === "resume" && !resume && operands.length === 0) resume = true;
      else operands.push(arg);
      i++;
      continue;
    }
    const option = readOption(args, i, resume ? { ...BOOLEAN_FLAGS, ...RESUME_FLAGS } : BOOLEAN_FLAGS, VALUE_FLAGS);
    if (!option) return undefined;
    if (LISTS.has(option.key)) (flags[option.key] as string[]).push(option.value as string);
    else flags[option.key] = option.value;
    i = option.next;
  }
  if (resume) return resumeRead(operands, flags as unknown as LeanExecFlags & { last?: boolean; all?: boolean });
  // `help` is a subcommand; two operands are commander's error to report.
  if (operands.length > 1 || operands[0] === "help") return undefined;
  return { prompt: operands[0], flags: flags as unknown as LeanExecFlags };
}

/** `exec resume`'s words as program.ts reads them; what it refuses (no thread, --last with two words, --all alone) is left to it. */
function resumeRead(operands: string[], flags: LeanExecFlags & { last?: boolean; all?: boolean }): PlainExec | undefined {
  if (flags.last) return operands.length > 1 ? undefined : { prompt: operands[0], flags, resume: { last: true, ...(flags.all ? { all: true } : {}) } };
  if (flags.all || operands.length === 0 || operands.length > 2) return undefined;
  return { prompt: operands[1], flags, resume: { threadId: operands[0]! } };
}
