// The splitter against the real shells: random command lines (every quoting style, operators,
// subshells, nested `bash -c`) run under bash and zsh with recording stubs on PATH; every
// argv the stubs received must be exactly what splitCommandLine predicted.
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { splitCommandLine } from "./split-command-line.js";

const PROGRAMS = ["rec1", "rec2", "rec3"];
let dir: string;
let binDir: string;
let run = 0;

/** Each run of a stub writes its argv (NUL-separated, name first) to a file of its own. */
const STUB = `#!/bin/sh
set -e
out=$(mktemp "$REC_DIR/argv.XXXXXXXX")
{ printf '%s\\0' "\${0##*/}"; for a in "$@"; do printf '%s\\0' "$a"; done; } > "$out"
`;

/** The shells commands run under: bash by default, zsh for zsh-fork (-f: no rc files). */
const SHELL_ARGV: Record<string, string[]> = { bash: ["/bin/bash", "--norc", "--noprofile", "-c"], zsh: ["/usr/bin/zsh", "-f", "-c"] };

function runShell(shell: string, line: string, recDir: string): Promise<void> {
  const [file, ...args] = SHELL_ARGV[shell]!;
  return new Promise((resolve, reject) => {
    execFile(
      file!,
      [...args, line],
      // HOME without a .bashrc: bash sources it when its stdin is a socket (as Node's pipes are).
      { env: { PATH: `${binDir}:/usr/bin:/bin`, REC_DIR: recDir, LC_ALL: "C", HOME: dir }, cwd: recDir, timeout: 20_000 },
      // A stub that failed (it writes to stderr) would lose a record: that is a failed run too.
      (err, _stdout, stderr) => (err || stderr !== "" ? reject(new Error(`${shell} failed on ${JSON.stringify(line)}: ${stderr}`)) : resolve()),
    );
  });
}

async function recorded(recDir: string): Promise<string[][]> {
  const out: string[][] = [];
  for (const name of await readdir(recDir)) {
    const text = await readFile(path.join(recDir, name), "utf8");
    out.push(text.split("\0").slice(0, -1));
  }
  return out;
}

const sortArgvs = (xs: string[][]) => xs.map((x) => JSON.stringify(x)).sort();

// Argument text: printable ASCII including every shell metacharacter, plus newline and tab.
const argText = fc.string({ unit: fc.constantFrom(..." \t\nab-_./'\"\\$`*?[]{}()<>|&;#~=!%^,:@+".split("")), maxLength: 12 });

function singleQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}
function doubleQuote(s: string): string {
  return `"${s.replace(/["\\$`]/g, (c) => `\\${c}`)}"`;
}
function backslashes(s: string): string {
  // A backslash-newline is a line continuation, so newlines go in single quotes.
  return s.replace(/[^A-Za-z0-9_./-]/g, (c) => (c === "\n" ? "'\n'" : `\\${c}`));
}

const quotedArg = fc.tuple(argText, fc.constantFrom(singleQuote, doubleQuote, backslashes)).map(([s, q]) => (s === "" ? "''" : q(s)));
const plainArg = fc.stringMatching(/^[a-z0-9_./-]{1,8}$/).filter((s) => !s.startsWith("=") && !s.startsWith("#"));
const simple = fc
  .tuple(fc.constantFrom(...PROGRAMS), fc.array(fc.oneof(quotedArg, plainArg), { maxLength: 5 }), fc.constantFrom("", " 2>/dev/null", " >/dev/null 2>&1", " </dev/null"))
  .map(([p, args, redirect]) => [p, ...args].join(" ") + redirect);

const line: fc.Arbitrary<string> = fc.letrec<{ list: string; unit: string }>((tie) => ({
  unit: fc.oneof(
    { maxDepth: 3 },
    { weight: 6, arbitrary: simple },
    { weight: 1, arbitrary: tie("list").map((l) => `( ${l} )`) },
    { weight: 1, arbitrary: tie("list").map((l) => `bash -c ${singleQuote(l)}`) },
  ),
  list: fc
    .tuple(tie("unit"), fc.array(fc.tuple(fc.constantFrom(" ; ", " | ", " && ", "\n", " |& "), tie("unit")), { maxLength: 3 }))
    .map(([first, rest]) => first + rest.map(([op, u]) => op + u).join("")),
})).list;

describe("splitCommandLine against the real shells", () => {
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "tether-split-bash-"));
    binDir = path.join(dir, "bin");
    await mkdir(binDir);
    for (const p of PROGRAMS) {
      await writeFile(path.join(binDir, p), STUB);
      await chmod(path.join(binDir, p), 0o755);
    }
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // Soundness on hostile text: whatever the splitter accepts runs exactly as predicted. Only
  // stubs can run: the letters are a and b (no real program or dangerous builtin is
  // spelled), lines run only when every predicted command is a stub, from a scratch cwd.
  const hostile = fc
    .string({
      unit: fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom(..." \t\nab-_./'\"\\$`*?[]{}()<>|&;#~=!%^,:0123".split("")) },
        { weight: 1, arbitrary: fc.constantFrom(" rec2 ", "; rec3 ", " bash -c ", " sh -c '", " | rec1 ", " && rec2 ", "2>&1", "/dev/null", " env ", " command ", "time ", "; time -p rec2 ") },
      ),
      maxLength: 40,
    })
    .map((tail) => `rec1 ${tail}`);

  it.each(["bash", "zsh"])("runs whatever it accepts of hostile text exactly as predicted under %s", async (shell) => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(hostile, async (text) => {
        const split = splitCommandLine(text);
        if (!split.ok || !split.commands.every((argv) => PROGRAMS.includes(argv[0]!))) return;
        // Unquoted globs may expand: keep those lines out of the exact comparison.
        if (split.globs.some((g) => g.length > 0)) return;
        accepted++;
        const recDir = path.join(dir, `run-${run++}`);
        await mkdir(recDir);
        // A redirection may fail (a missing input file) and keep a command from running: fewer
        // runs are fine; anything run that was not predicted is the failure looked for.
        await runShell(shell, text, recDir).catch(() => undefined);
        const predicted = sortArgvs(split.commands);
        for (const argv of sortArgvs(await recorded(recDir))) {
          const at = predicted.indexOf(argv);
          expect(at, `${JSON.stringify(text)} ran ${argv}, predicted ${predicted.join(" ")}`).toBeGreaterThanOrEqual(0);
          predicted.splice(at, 1);
        }
      }),
      { numRuns: 400 },
    );
    expect(accepted).toBeGreaterThan(20);
  });

  it.each(["bash", "zsh"])("predicts exactly the argv every command receives under %s", async (shell) => {
    await fc.assert(
      fc.asyncProperty(line, async (text) => {
        const split = splitCommandLine(text, { maxDepth: 16 });
        expect(split.ok, split.ok ? "" : `${split.reason}: ${JSON.stringify(text)}`).toBe(true);
        if (!split.ok) return;
        const recDir = path.join(dir, `run-${run++}`);
        await mkdir(recDir);
        await runShell(shell, text, recDir);
        expect(sortArgvs(await recorded(recDir)), JSON.stringify(text)).toEqual(sortArgvs(split.commands));
      }),
      { numRuns: 60 },
    );
  });
});
