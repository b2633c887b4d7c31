// Tokens of the small shell subset policy can reason about. The lexer is one linear pass
// and refuses (throws ShellRefusal) at the first construct whose meaning depends on the
// runtime — expansions, substitutions, heredocs, writes to files — so nothing it returns
// can turn into a different argv when the shell runs it.

export type ShellToken =
  | {
      type: "word";
      value: string;
      /** Some part was quoted or escaped (quoted words are never keywords or assignments). */
      quoted: boolean;
      /** Unquoted `*`, `?`, `[` or a tilde prefix: the shell may still change or multiply the word. */
      glob: boolean;
      /** Starts with an unquoted `NAME=` (an environment assignment before a command). */
      assignment: boolean;
    }
  | { type: "op"; op: ShellOperator };

export type ShellOperator = "&&" | "||" | ";" | "|" | "|&" | "(" | ")" | "\n";

/** Thrown when a line cannot be parsed safely; the message says which construct. */
export class ShellRefusal extends Error {
  override readonly name = "ShellRefusal";
}

const METACHARS = new Set([" ", "\t", "\n", "|", "&", ";", "(", ")", "<", ">"]);
/**
 * A `$` is literal only before whitespace, the end, or (unquoted) an operator: bash and zsh
 * start an expansion at almost anything else (names, specials, ${ $( $[ $' $", zsh's $= $^ $~ $+).
 */
const LITERAL_DOLLAR_BEFORE = new Set([" ", "\t", "\n", "|", "&", ";", "<", ">", ")"]);
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Special files through which bash opens network connections on redirection. */
const NETWORK_FILES = ["/dev/tcp/", "/dev/udp/"];

export function lexShell(src: string): ShellToken[] {
  const tokens: ShellToken[] = [];
  let i = 0;
  const n = src.length;

  while (i < n) {
    const c = src[i]!;
    if (c === " " || c === "\t") {
      i++;
      continue;
    }
    if (c === "\\" && src[i + 1] === "\n") {
      i += 2; // line continuation between words
      continue;
    }
    if (c === "#") {
      // A comment runs to the end of the line (bash -c scripts take comments).
      while (i < n && src[i] !== "\n") i++;
      continue;
    }
    if (c === "\n" || c === ";" || c === "(" || c === ")") {
      if (c === ";" && src[i + 1] === ";") throw new ShellRefusal("`;;` belongs to case, a control-flow construct");
      if (c === ";" && src[i + 1] === "&") throw new ShellRefusal("`;&` belongs to case, a control-flow construct");
      tokens.push({ type: "op", op: c as ShellOperator });
      i++;
      continue;
    }
    if (c === "|") {
      const next = src[i + 1];
      if (next === "|" || next === "&") {
        tokens.push({ type: "op", op: next === "|" ? "||" : "|&" });
        i += 2;
      } else {
        tokens.push({ type: "op", op: "|" });
        i++;
      }
      continue;
    }
    if (c === "&") {
      const next = src[i + 1];
      if (next === "&") {
        tokens.push({ type: "op", op: "&&" });
        i += 2;
        continue;
      }
      if (next === ">") {
        i = redirection(src, i + 1, true);
        continue;
      }
      throw new ShellRefusal("`&` runs a command in the background");
    }
    if (c === "<" || c === ">") {
      i = redirection(src, i, false);
      continue;
    }
    const word = readWord(src, i);
    // An all-digit unquoted word glued to `<` or `>` is a file descriptor number (2>/dev/null).
    // zsh takes only one digit as a descriptor (`22>&1` passes "22" as an argument; bash does
    // not), so a longer number has no single meaning.
    if (!word.token.quoted && /^[0-9]+$/.test(word.token.value) && (src[word.end] === "<" || src[word.end] === ">")) {
      if (word.token.value.length > 1) throw new ShellRefusal(`\`${word.token.value}${src[word.end]}\` means a descriptor to bash but an argument to zsh`);
      i = redirection(src, word.end, false);
      continue;
    }
    tokens.push(word.token);
    i = word.end;
  }
  return tokens;
}

/** Reads a redirection starting at `<` or `>` (or just after `&` for `&>`), checks it and skips it. */
function redirection(src: string, start: number, ampersand: boolean): number {
  let i = start;
  let op = src[i]!;
  i++;
  if (op === "<" && src[i] === "<") throw new ShellRefusal("heredocs and here-strings (`<<`, `<<<`) are not parsed");
  if (src[i] === ">" || src[i] === "|" || (op === "<" && src[i] === ">")) op += src[i++]!;
  if (src[i] === "&" && !ampersand) {
    // Descriptor duplication: N>&M, <&M, >&- (closing); `>&file` means `&>file`.
    i++;
    while (src[i] === " " || src[i] === "\t") i++;
    const target = readWord(src, i);
    if (/^([0-9]+|-)$/.test(target.token.value) && !target.token.glob) return target.end;
    return checkTarget(src, target.end, target.token, true);
  }
  if (src[i] === "(") throw new ShellRefusal("process substitution `<(…)` / `>(…)` runs a command");
  while (src[i] === " " || src[i] === "\t") i++;
  if (i >= src.length || METACHARS.has(src[i]!)) throw new ShellRefusal(`redirection \`${op}\` has no target`);
  const target = readWord(src, i);
  return checkTarget(src, target.end, target.token, ampersand || op !== "<");
}

function checkTarget(_src: string, end: number, token: ShellToken & { type: "word" }, writes: boolean): number {
  if (token.glob) throw new ShellRefusal("a redirection target with a glob is expanded at run time");
  if (NETWORK_FILES.some((prefix) => token.value.startsWith(prefix))) {
    throw new ShellRefusal(`redirection through ${token.value} opens a network connection`);
  }
  if (writes && token.value !== "/dev/null") {
    throw new ShellRefusal(`output redirection to ${JSON.stringify(token.value)} writes a file (only /dev/null is allowed)`);
  }
  return end;
}

function readWord(src: string, start: number): { token: ShellToken & { type: "word" }; end: number } {
  let i = start;
  let value = "";
  let quoted = false;
  let glob = false;
  let assignment = false;
  /** Still inside the unquoted NAME part that could make this an assignment. */
  let namePrefix = true;
  const n = src.length;

  while (i < n) {
    const c = src[i]!;
    if (METACHARS.has(c)) break;
    if (c === "'") {
      const close = src.indexOf("'", i + 1);
      if (close < 0) throw new ShellRefusal("unbalanced single quote");
      value += src.slice(i + 1, close);
      quoted = true;
      namePrefix = false;
      i = close + 1;
      continue;
    }
    if (c === '"') {
      i = readDoubleQuoted(src, i + 1, (text) => (value += text));
      quoted = true;
      namePrefix = false;
      continue;
    }
    if (c === "\\") {
      if (i + 1 >= n) throw new ShellRefusal("a trailing backslash escapes nothing");
      if (src[i + 1] !== "\n") value += src[i + 1];
      quoted = true;
      namePrefix = false;
      i += 2;
      continue;
    }
    if (c === "`") throw new ShellRefusal("command substitution (backticks) runs a command to build the line");
    if (c === "$" && i + 1 < n && !LITERAL_DOLLAR_BEFORE.has(src[i + 1]!)) {
      throw new ShellRefusal(expansionReason(src[i + 1]!));
    }
    if (c === "{" || c === "}") {
      // `{}` alone is find's placeholder; anything else may be brace expansion or a group.
      if (!(c === "{" && src[i + 1] === "}" && value === "" && !quoted && (i + 2 >= n || METACHARS.has(src[i + 2]!)))) {
        throw new ShellRefusal("braces (brace expansion or a command group) are not parsed");
      }
      value += "{}";
      i += 2;
      namePrefix = false;
      continue;
    }
    // A lone `[` is the test command, not a pattern.
    if (c === "*" || c === "?" || (c === "[" && !(value === "" && (i + 1 >= n || METACHARS.has(src[i + 1]!))))) glob = true;
    // Tilde expansion: at the start of a word and (bash) after `=` or `:`; over-marking is safe.
    if (c === "~" && (value === "" || value.endsWith("=") || value.endsWith(":"))) glob = true;
    if (c === "=" && namePrefix && NAME.test(value)) assignment = true;
    if (c === "=" || !/[A-Za-z0-9_]/.test(c)) namePrefix = false;
    value += c;
    i++;
  }
  return { token: { type: "word", value, quoted, glob, assignment }, end: i };
}

/** Reads a double-quoted string body from `start` (after the quote); returns the index after the closing quote. */
function readDoubleQuoted(src: string, start: number, append: (text: string) => void): number {
  let i = start;
  let text = "";
  while (i < src.length) {
    const c = src[i]!;
    if (c === '"') {
      append(text);
      return i + 1;
    }
    if (c === "\\") {
      const next = src[i + 1];
      if (next === undefined) break;
      if (next === "\n") {
        i += 2;
        continue;
      }
      text += next === "$" || next === "`" || next === '"' || next === "\\" ? next : c + next;
      i += 2;
      continue;
    }
    if (c === "`") throw new ShellRefusal("command substitution (backticks) runs a command to build the line");
    // Inside double quotes `$"` ends the string with a literal `$`.
    const after = src[i + 1];
    if (c === "$" && after !== undefined && after !== '"' && after !== " " && after !== "\t" && after !== "\n") {
      throw new ShellRefusal(expansionReason(src[i + 1]!));
    }
    text += c;
    i++;
  }
  throw new ShellRefusal("unbalanced double quote");
}

function expansionReason(next: string): string {
  if (next === "(") return "command substitution `$(…)` runs a command to build the line";
  if (next === "'" || next === '"') return "`$'…'` / `$\"…\"` quoting is not parsed";
  return "variable expansion is only known when the shell runs";
}
