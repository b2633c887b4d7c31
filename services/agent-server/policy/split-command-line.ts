// Splits a shell command line into the simple commands (argv lists) it would run, so
// execpolicy can judge each one. Only a subset is accepted: words, quotes, pipelines,
// `&&` `||` `;` `|&`, subshells, `bash -c '…'` nesting and /dev/null redirections. Anything
// whose argv is only known at run time is "unparseable", which policy treats as a prompt.
import { lexShell, ShellRefusal, type ShellToken } from "./shell-lexer.js";

export interface SplitOptions {
  /** Longest line accepted, in UTF-16 units (default 64 KiB). */
  maxLength?: number;
  /** Deepest nesting of subshells and `sh -c` scripts (default 4). */
  maxDepth?: number;
}

export type SplitResult =
  | {
      ok: true;
      /** Each simple command's argv, in source order, wrappers (sh -c, env, nohup, …) removed. */
      commands: string[][];
      /** Per command, indexes of argv words the shell may still expand (unquoted globs, ~ prefixes). */
      globs: number[][];
    }
  | { ok: false; reason: string };

export const MAX_COMMAND_LINE_LENGTH = 64 * 1024;
export const MAX_SHELL_DEPTH = 4;
/** More simple commands than this in one line is not something to approve at a glance. */
export const MAX_SIMPLE_COMMANDS = 512;

const RESERVED = new Set([
  "if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while", "until", "for", "in",
  "select", "function", "time", "coproc", "{", "}", "!", "[[", "]]",
  // zsh's (the zsh-fork shell): loops and blocks of their own
  "repeat", "foreach", "end", "always",
]);
/** Builtins that run text as shell code later or elsewhere: their argv says nothing. */
const CODE_BUILTINS = new Set(["eval", "source", ".", "trap", "alias"]);
const SHELLS = new Set(["bash", "sh", "zsh", "dash"]);
/** Run the rest of their argv as the command (noglob/nocorrect are zsh's precommand modifiers). */
const WRAPPERS = new Set(["nohup", "exec", "command", "env", "builtin", "noglob", "nocorrect"]);

export function splitCommandLine(line: string, options: SplitOptions = {}): SplitResult {
  const maxLength = options.maxLength ?? MAX_COMMAND_LINE_LENGTH;
  if (line.length > maxLength) return { ok: false, reason: `command line longer than ${maxLength} characters` };
  const out: Collected = { commands: [], globs: [] };
  try {
    parseScript(line, 0, options.maxDepth ?? MAX_SHELL_DEPTH, out);
  } catch (err) {
    if (err instanceof ShellRefusal) return { ok: false, reason: err.message };
    throw err;
  }
  return { ok: true, ...out };
}

/**
 * The simple commands of an exec argv: a shell's `-c` script is split, wrappers are removed,
 * anything else is one command as is (no shell ran over it, so nothing expands).
 */
export function splitArgv(argv: string[], options: SplitOptions = {}): SplitResult {
  if (argv.length === 0) return { ok: false, reason: "argv is empty" };
  const out: Collected = { commands: [], globs: [] };
  try {
    addCommand(argv, [], 0, options.maxDepth ?? MAX_SHELL_DEPTH, out);
  } catch (err) {
    if (err instanceof ShellRefusal) return { ok: false, reason: err.message };
    throw err;
  }
  return { ok: true, ...out };
}

interface Collected {
  commands: string[][];
  globs: number[][];
}

function parseScript(src: string, depth: number, maxDepth: number, out: Collected): void {
  const tokens = lexShell(src);
  const parser = new Parser(tokens, depth, maxDepth, out);
  parser.list(false);
  if (parser.pos < tokens.length) throw new ShellRefusal(`unexpected \`${describe(tokens[parser.pos]!)}\``);
  if (out.commands.length === 0) throw new ShellRefusal("the line runs no command");
}

class Parser {
  pos = 0;
  constructor(
    private readonly tokens: ShellToken[],
    private depth: number,
    private readonly maxDepth: number,
    private readonly out: Collected,
  ) {}

  /** A list of pipelines joined by `&&` `||` `;` newline; inside a subshell it stops at `)`. */
  list(inSubshell: boolean): void {
    this.skipNewlines();
    let ran = false;
    while (this.pos < this.tokens.length) {
      const t = this.tokens[this.pos]!;
      if (t.type === "op" && t.op === ")") {
        if (!inSubshell) throw new ShellRefusal("unbalanced `)`");
        break;
      }
      this.pipeline();
      ran = true;
      const sep = this.tokens[this.pos];
      if (sep === undefined) break;
      if (sep.type !== "op") throw new ShellRefusal(`unexpected word ${JSON.stringify(sep.value)}`);
      if (sep.op === ")") continue;
      if (sep.op === "&&" || sep.op === "||") {
        this.pos++;
        this.skipNewlines();
        this.requireCommand(sep.op);
      } else if (sep.op === ";" || sep.op === "\n") {
        this.pos++;
        this.skipNewlines();
      } else {
        throw new ShellRefusal(`unexpected \`${sep.op}\``);
      }
    }
    if (!ran) throw new ShellRefusal(inSubshell ? "empty subshell" : "the line runs no command");
  }

  private pipeline(): void {
    this.command();
    for (;;) {
      const t = this.tokens[this.pos];
      if (t?.type !== "op" || (t.op !== "|" && t.op !== "|&")) return;
      this.pos++;
      this.skipNewlines();
      this.requireCommand(t.op);
      this.command();
    }
  }

  private command(): void {
    const t = this.tokens[this.pos];
    if (t?.type === "op" && t.op === "(") {
      this.pos++;
      this.enter();
      this.list(true);
      const close = this.tokens[this.pos];
      if (close?.type !== "op" || close.op !== ")") throw new ShellRefusal("unbalanced `(`");
      this.pos++;
      this.depth--;
      const after = this.tokens[this.pos];
      if (after?.type === "word") throw new ShellRefusal(`unexpected word ${JSON.stringify(after.value)} after a subshell`);
      return;
    }
    const words: (ShellToken & { type: "word" })[] = [];
    for (let w = this.tokens[this.pos]; w?.type === "word"; w = this.tokens[++this.pos]) words.push(w);
    if (words.length === 0) throw new ShellRefusal(t === undefined ? "a command is missing" : `unexpected \`${describe(t)}\``);
    // The `time` keyword (and its -p) only times the pipeline it precedes.
    if (!words[0]!.quoted && words[0]!.value === "time") words.splice(0, !words[1]?.quoted && words[1]?.value === "-p" ? 2 : 1);
    const head = words[0];
    if (head === undefined) throw new ShellRefusal("`time` without a command");
    if (!head.quoted && RESERVED.has(head.value)) throw new ShellRefusal(`\`${head.value}\` is shell control flow`);
    const next = this.tokens[this.pos];
    if (next?.type === "op" && next.op === "(") throw new ShellRefusal("function definitions are not parsed");
    if (head.assignment) throw new ShellRefusal(`environment assignment ${JSON.stringify(head.value)} changes how the command runs`);
    // zsh (the zsh-fork shell) expands an unquoted `=name` word to a path found at run time.
    const zshPath = words.find((w) => !w.quoted && /^=[^=]/.test(w.value));
    if (zshPath !== undefined) throw new ShellRefusal(`${JSON.stringify(zshPath.value)} is expanded by zsh to a path`);
    const globs: number[] = [];
    words.forEach((w, i) => w.glob && globs.push(i));
    addCommand(
      words.map((w) => w.value),
      globs,
      this.depth,
      this.maxDepth,
      this.out,
    );
  }

  private enter(): void {
    if (++this.depth > this.maxDepth) throw new ShellRefusal(`nested deeper than ${this.maxDepth} levels`);
  }

  private requireCommand(after: string): void {
    const t = this.tokens[this.pos];
    if (t === undefined || (t.type === "op" && t.op !== "(")) throw new ShellRefusal(`\`${after}\` is not followed by a command`);
  }

  private skipNewlines(): void {
    for (let t = this.tokens[this.pos]; t?.type === "op" && t.op === "\n"; t = this.tokens[++this.pos]);
  }
}

/** Records one simple command after removing wrappers and splitting `sh -c` scripts. */
function addCommand(argv: string[], globs: number[], depth: number, maxDepth: number, out: Collected): void {
  const unwrapped = unwrap(argv, globs);
  const program = unwrapped.argv[0];
  if (program === undefined) throw new ShellRefusal(`\`${argv[0]}\` without a command to run`);
  if (program === "") throw new ShellRefusal("the command word is empty");
  if (unwrapped.globs.includes(0)) throw new ShellRefusal(`the command word ${JSON.stringify(program)} has a glob or ~ the shell expands`);
  if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(program) && unwrapped.argv !== argv) {
    throw new ShellRefusal(`environment assignment ${JSON.stringify(program)} changes how the command runs`);
  }
  if (CODE_BUILTINS.has(program)) throw new ShellRefusal(`\`${program}\` runs text as shell code`);
  const script = shellScript(unwrapped.argv, unwrapped.globs);
  if (script !== undefined) {
    if (depth + 1 > maxDepth) throw new ShellRefusal(`nested deeper than ${maxDepth} levels`);
    parseScript(script, depth + 1, maxDepth, out);
    return;
  }
  if (out.commands.length >= MAX_SIMPLE_COMMANDS) throw new ShellRefusal(`more than ${MAX_SIMPLE_COMMANDS} simple commands`);
  out.commands.push(unwrapped.argv);
  out.globs.push(unwrapped.globs);
}

/**
 * Removes wrappers that only exec the rest of their argv (env, nohup, exec, command,
 * builtin), so rules see the program that really runs. Options that change what runs
 * (env -S/-i/-u, exec -a) are refused rather than guessed at; `command -v/-V` only prints.
 */
function unwrap(argv: string[], globs: number[]): { argv: string[]; globs: number[] } {
  let skip = 0;
  for (let guard = 0; guard < 8; guard++) {
    const raw = argv[skip];
    if (raw === undefined) break;
    // By base name: a zsh-fork exec names the resolved file (/usr/bin/env).
    const word = raw.slice(raw.lastIndexOf("/") + 1);
    if (!WRAPPERS.has(word)) break;
    if (globs.includes(skip)) break;
    let next = argv[skip + 1];
    if (word === "command" && next === "-p") {
      skip++; // -p only picks the default PATH
      next = argv[skip + 1];
    }
    if (next !== undefined && next.startsWith("-") && next !== "--") {
      if (word === "command" && (next === "-v" || next === "-V")) break; // a lookup, runs nothing
      throw new ShellRefusal(`\`${word} ${next}\` changes how the command runs`);
    }
    skip += next === "--" ? 2 : 1;
  }
  if (skip === 0) return { argv, globs };
  return { argv: argv.slice(skip), globs: globs.filter((g) => g >= skip).map((g) => g - skip) };
}

/** The script of `bash -c SCRIPT` / `sh -lc SCRIPT` (options before it limited to l, c, e, u, x). */
function shellScript(argv: string[], globs: number[]): string | undefined {
  const program = argv[0]!;
  if (!SHELLS.has(program.slice(program.lastIndexOf("/") + 1))) return undefined;
  let sawC = false;
  let i = 1;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--login" || arg === "--norc" || arg === "--noprofile") continue;
    if (!/^-[lceux]+$/.test(arg)) break;
    if (arg.includes("c")) sawC = true;
  }
  if (!sawC) return undefined;
  const script = argv[i];
  if (script === undefined) throw new ShellRefusal(`\`${program} -c\` without a script`);
  if (globs.includes(i)) throw new ShellRefusal("a shell script given as a glob");
  return script;
}

function describe(t: ShellToken): string {
  return t.type === "word" ? t.value : t.op === "\n" ? "newline" : t.op;
}
