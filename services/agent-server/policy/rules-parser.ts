// Parser for execpolicy rule files: the restricted Starlark subset Codex users write —
// top-level calls with keyword (or positional) arguments whose values are strings or
// (nested) lists of them, `#` comments, trailing commas. Every error names file, line,
// column and what to fix; nothing is evaluated.
import { ErrorCode, TetherError } from "../../common/tether-error.js";

export interface SourcePos {
  file: string;
  line: number;
  column: number;
}

export type RuleValue =
  | { kind: "string"; value: string; at: SourcePos }
  | { kind: "list"; items: RuleValue[]; at: SourcePos };

export interface RuleArg {
  /** Absent for a positional argument. */
  name?: string;
  value: RuleValue;
  at: SourcePos;
}

export interface RuleCall {
  name: string;
  args: RuleArg[];
  at: SourcePos;
}

export const MAX_RULE_FILE_BYTES = 1024 * 1024;
const MAX_LIST_DEPTH = 8;

export function ruleError(at: SourcePos, reason: string): TetherError {
  return new TetherError(ErrorCode.InvalidArgument, `${at.file}:${at.line}:${at.column}: ${reason}`, {
    details: { file: at.file, line: String(at.line), column: String(at.column) },
  });
}

type Token =
  | { type: "ident"; value: string; at: SourcePos }
  | { type: "string"; value: string; at: SourcePos }
  | { type: "punct"; value: "(" | ")" | "[" | "]" | "," | "=" | ";"; at: SourcePos }
  | { type: "newline"; at: SourcePos }
  | { type: "eof"; at: SourcePos };

export function parseRuleFile(text: string, file: string): RuleCall[] {
  if (text.length > MAX_RULE_FILE_BYTES) {
    throw ruleError({ file, line: 1, column: 1 }, `rule file is larger than ${MAX_RULE_FILE_BYTES} bytes`);
  }
  // Editors on some systems start files with a byte-order mark: it is not part of the rules.
  const p = new RuleParser(tokenize(text.startsWith("\uFEFF") ? text.slice(1) : text, file));
  return p.file();
}

class RuleParser {
  private pos = 0;
  constructor(private readonly tokens: Token[]) {}

  file(): RuleCall[] {
    const calls: RuleCall[] = [];
    for (;;) {
      const t = this.peek();
      if (t.type === "eof") return calls;
      if (t.type === "newline" || (t.type === "punct" && t.value === ";")) {
        this.pos++;
        continue;
      }
      calls.push(this.call());
      const end = this.peek();
      if (end.type !== "eof" && end.type !== "newline" && !(end.type === "punct" && end.value === ";")) {
        throw ruleError(end.at, `expected a new line after the call, found ${show(end)}`);
      }
    }
  }

  private call(): RuleCall {
    const name = this.next();
    if (name.type !== "ident") {
      throw ruleError(name.at, `expected a call such as prefix_rule(...), found ${show(name)}`);
    }
    const open = this.next();
    if (open.type !== "punct" || open.value !== "(") {
      throw ruleError(open.at, `only calls are supported at top level: expected \`(\` after ${name.value}, found ${show(open)}`);
    }
    const args: RuleArg[] = [];
    for (;;) {
      this.skipNewlines();
      const t = this.peek();
      if (t.type === "punct" && t.value === ")") {
        this.pos++;
        return { name: name.value, args, at: name.at };
      }
      args.push(this.arg(args));
      this.skipNewlines();
      const sep = this.next();
      if (sep.type === "punct" && sep.value === ")") return { name: name.value, args, at: name.at };
      if (sep.type !== "punct" || sep.value !== ",") throw ruleError(sep.at, `expected \`,\` or \`)\` in the arguments of ${name.value}, found ${show(sep)}`);
    }
  }

  private arg(previous: RuleArg[]): RuleArg {
    const t = this.peek();
    const after = this.tokens[this.pos + 1];
    if (t.type === "ident" && after?.type === "punct" && after.value === "=") {
      this.pos += 2;
      this.skipNewlines();
      if (previous.some((a) => a.name === t.value)) throw ruleError(t.at, `argument ${t.value} is given twice`);
      return { name: t.value, value: this.value(0), at: t.at };
    }
    if (previous.some((a) => a.name !== undefined)) throw ruleError(t.at, "a positional argument cannot follow keyword arguments");
    return { value: this.value(0), at: t.at };
  }

  private value(depth: number): RuleValue {
    const t = this.next();
    if (t.type === "string") return { kind: "string", value: t.value, at: t.at };
    if (t.type === "punct" && t.value === "[") {
      if (depth >= MAX_LIST_DEPTH) throw ruleError(t.at, `lists nested deeper than ${MAX_LIST_DEPTH} levels`);
      const items: RuleValue[] = [];
      for (;;) {
        this.skipNewlines();
        const close = this.peek();
        if (close.type === "punct" && close.value === "]") {
          this.pos++;
          return { kind: "list", items, at: t.at };
        }
        items.push(this.value(depth + 1));
        this.skipNewlines();
        const sep = this.next();
        if (sep.type === "punct" && sep.value === "]") return { kind: "list", items, at: t.at };
        if (sep.type !== "punct" || sep.value !== ",") throw ruleError(sep.at, `expected \`,\` or \`]\` in a list, found ${show(sep)}`);
      }
    }
    if (t.type === "ident") {
      throw ruleError(t.at, `only strings and lists are supported as values, found the name ${t.value} (quote it: "${t.value}")`);
    }
    throw ruleError(t.at, `expected a string or a list, found ${show(t)}`);
  }

  private skipNewlines(): void {
    while (this.peek().type === "newline") this.pos++;
  }
  private peek(): Token {
    return this.tokens[this.pos]!;
  }
  private next(): Token {
    const t = this.tokens[this.pos]!;
    if (t.type !== "eof") this.pos++;
    return t;
  }
}

function show(t: Token): string {
  if (t.type === "eof") return "the end of the file";
  if (t.type === "newline") return "a line break";
  if (t.type === "string") return `the string ${JSON.stringify(t.value)}`;
  return `\`${t.value}\``;
}

function tokenize(text: string, file: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const at = (index: number): SourcePos => ({ file, line, column: index - lineStart + 1 });
  while (i < text.length) {
    const c = text[i]!;
    if (c === "\n") {
      tokens.push({ type: "newline", at: at(i) });
      i++;
      line++;
      lineStart = i;
    } else if (c === " " || c === "\t" || c === "\r") {
      i++;
    } else if (c === "\\" && text[i + 1] === "\n") {
      i += 2;
      line++;
      lineStart = i;
    } else if (c === "#") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if ("()[],=;".includes(c)) {
      tokens.push({ type: "punct", value: c as "(", at: at(i) });
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      const start = i;
      while (i < text.length && /[A-Za-z0-9_]/.test(text[i]!)) i++;
      const word = text.slice(start, i);
      if ((word === "r" || word === "R") && (text[i] === '"' || text[i] === "'")) {
        const s = readString(text, i, true, at(start), () => {
          line++;
        });
        tokens.push({ type: "string", value: s.value, at: at(start) });
        lineStart = s.lineStart ?? lineStart;
        i = s.end;
      } else {
        tokens.push({ type: "ident", value: word, at: at(start) });
      }
    } else if (c === '"' || c === "'") {
      const pos = at(i);
      const s = readString(text, i, false, pos, () => {
        line++;
      });
      tokens.push({ type: "string", value: s.value, at: pos });
      lineStart = s.lineStart ?? lineStart;
      i = s.end;
    } else {
      throw ruleError(at(i), `unexpected character ${JSON.stringify(c)}: only calls with string and list arguments are supported`);
    }
  }
  tokens.push({ type: "eof", at: at(i) });
  return tokens;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  "\\": "\\", "'": "'", '"': '"', n: "\n", t: "\t", r: "\r", a: "\x07", b: "\b", f: "\f", v: "\v",
};

/** Reads a (possibly triple-quoted, possibly raw) string literal starting at its quote. */
function readString(
  text: string,
  start: number,
  raw: boolean,
  pos: SourcePos,
  onNewline: () => void,
): { value: string; end: number; lineStart?: number } {
  const q = text[start]!;
  const triple = text.startsWith(q.repeat(3), start);
  let i = start + (triple ? 3 : 1);
  let value = "";
  let lineStart: number | undefined;
  while (i < text.length) {
    const c = text[i]!;
    if (triple ? text.startsWith(q.repeat(3), i) : c === q) return { value, end: i + (triple ? 3 : 1), lineStart };
    if (c === "\n") {
      if (!triple) throw ruleError(pos, "string is not closed on its line (use a triple-quoted string for several lines)");
      onNewline();
      lineStart = i + 1;
      value += c;
      i++;
      continue;
    }
    if (c !== "\\") {
      value += c;
      i++;
      continue;
    }
    const e = text[i + 1];
    if (e === undefined) break;
    if (raw) {
      value += e === q ? e : c + e;
      i += 2;
      continue;
    }
    if (e === "\n") {
      onNewline();
      lineStart = i + 2;
      i += 2;
      continue;
    }
    if (SIMPLE_ESCAPES[e] !== undefined) {
      value += SIMPLE_ESCAPES[e];
      i += 2;
      continue;
    }
    const hex = e === "x" ? 2 : e === "u" ? 4 : e === "U" ? 8 : 0;
    if (hex > 0) {
      const digits = text.slice(i + 2, i + 2 + hex);
      const code = /^[0-9a-fA-F]+$/.test(digits) && digits.length === hex ? parseInt(digits, 16) : NaN;
      if (!(code <= 0x10ffff)) throw ruleError(pos, `bad \\${e} escape in a string: expected ${hex} hex digits`);
      value += String.fromCodePoint(code);
      i += 2 + hex;
      continue;
    }
    const octal = /^[0-7]{1,3}/.exec(text.slice(i + 1, i + 4));
    if (octal) {
      value += String.fromCharCode(parseInt(octal[0], 8));
      i += 1 + octal[0].length;
      continue;
    }
    throw ruleError(pos, `unknown escape \\${e} in a string (write \\\\ for a backslash)`);
  }
  throw ruleError(pos, "string is not closed");
}
