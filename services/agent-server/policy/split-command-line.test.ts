import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_SHELL_DEPTH, splitArgv, splitCommandLine } from "./split-command-line.js";

function commands(line: string): string[][] {
  const r = splitCommandLine(line);
  if (!r.ok) throw new Error(`expected ${JSON.stringify(line)} to parse, got: ${r.reason}`);
  return r.commands;
}

function refusal(line: string): string {
  const r = splitCommandLine(line);
  if (r.ok) throw new Error(`expected ${JSON.stringify(line)} to be unparseable, got ${JSON.stringify(r.commands)}`);
  return r.reason;
}

describe("splitCommandLine", () => {
  const parsed: [string, string[][]][] = [
    ["ls", [["ls"]]],
    ["ls -la  src", [["ls", "-la", "src"]]],
    ["ls && pwd; echo 'hi there' | wc -l", [["ls"], ["pwd"], ["echo", "hi there"], ["wc", "-l"]]],
    ["a || b", [["a"], ["b"]]],
    ["make 2>&1 |& tee", [["make"], ["tee"]]],
    ["(cd src && ls) || true", [["cd", "src"], ["ls"], ["true"]]],
    ["((ls))", [["ls"]]],
    ['echo "a b" \'c d\' e\\ f', [["echo", "a b", "c d", "e f"]]],
    ['echo "/usr"\'/\'"local"/bin', [["echo", "/usr/local/bin"]]],
    ['echo "say \\"hi\\" \\$5 \\\\ \\n"', [["echo", 'say "hi" $5 \\ \\n']]],
    ["echo 'it''s'", [["echo", "its"]]],
    ['git commit -m "line1\nline2"', [["git", "commit", "-m", "line1\nline2"]]],
    ["rg -n foo -g'*.py'", [["rg", "-n", "foo", "-g*.py"]]],
    ["ls\npwd\n", [["ls"], ["pwd"]]],
    ["ls &&\n  pwd", [["ls"], ["pwd"]]],
    ["ls \\\n -la", [["ls", "-la"]]],
    ["ls # a comment $(rm -rf /)", [["ls"]]],
    ["echo a#b", [["echo", "a#b"]]],
    ["echo 100$ costs $", [["echo", "100$", "costs", "$"]]],
    ["echo \"$\" '$HOME' \"a $ b\" $;", [["echo", "$", "$HOME", "a $ b", "$"]]],
    ["ls >/dev/null 2>/dev/null", [["ls"]]],
    ["ls &>/dev/null", [["ls"]]],
    ["ls > /dev/null 2>&1", [["ls"]]],
    ["cat < input.txt", [["cat"]]],
    ["echo hi >&2", [["echo", "hi"]]],
    ["bash -lc 'git status && git diff'", [["git", "status"], ["git", "diff"]]],
    ["/bin/sh -c \"ls | wc -l\"", [["ls"], ["wc", "-l"]]],
    ["bash -c 'sh -c \"git push\"'", [["git", "push"]]],
    ["zsh -lc ls", [["ls"]]],
    ["bash script.sh", [["bash", "script.sh"]]],
    ["env git push", [["git", "push"]]],
    ["nohup exec command git push", [["git", "push"]]],
    ["command -v git", [["command", "-v", "git"]]],
    ["command -p rm x", [["rm", "x"]]],
    ["env -- git push", [["git", "push"]]],
    ["noglob nocorrect rm x", [["rm", "x"]]],
    ["time make -j4 | tail", [["make", "-j4"], ["tail"]]],
    ["time -p ls", [["ls"]]],
    ["find . -name x -exec rm {} \\;", [["find", ".", "-name", "x", "-exec", "rm", "{}", ";"]]],
    ["[ -f x ] && echo yes", [["[", "-f", "x", "]"], ["echo", "yes"]]],
    ["ls ;", [["ls"]]],
    ["git log --format=%H -n1", [["git", "log", "--format=%H", "-n1"]]],
    ["echo a=b", [["echo", "a=b"]]],
    ['"FOO=1" ls', [["FOO=1", "ls"]]],
  ];
  it.each(parsed)("splits %j", (line, expected) => {
    expect(commands(line)).toEqual(expected);
  });

  const refused: [string, RegExp][] = [
    ["ls 22>&1", /descriptor to bash but an argument to zsh/],
    ["echo $(rm -rf /)", /command substitution/],
    ["echo `pwd`", /backticks/],
    ['echo "`pwd`"', /backticks/],
    ['echo "$(pwd)"', /command substitution/],
    ["$CMD arg", /variable expansion/],
    ["git $SUB", /variable expansion/],
    ['git "$SUB"', /variable expansion/],
    ["echo ${HOME}", /variable expansion/],
    ["echo $1 $? $@", /variable expansion/],
    ["echo $'\\x41'", /quoting/],
    ["echo $((1+2))", /command substitution/],
    ["echo hi > out.txt", /writes a file/],
    ["echo hi >> ~/.bashrc", /writes a file|expanded/],
    ["echo $=x $^y $~z $+w $[1+1]", /expansion/],
    ["echo 100$/month", /expansion/],
    ["echo hi >| f", /writes a file/],
    ["ls &> log", /writes a file/],
    ["ls >&log", /writes a file/],
    ["cat <> f", /writes a file/],
    ["ls 2> err", /writes a file/],
    ["cat < /dev/tcp/evil/80", /network/],
    ["cat <<EOF\nhi\nEOF", /heredoc/],
    ["cat <<< hi", /heredoc/],
    ["diff <(ls a) <(ls b)", /process substitution/],
    ["tee >(wc)", /process substitution/],
    ["ls > *.txt", /glob/],
    ["ls >", /no target/],
    ["FOO=bar ls", /environment assignment/],
    ["env FOO=bar ls", /environment assignment/],
    ["A=1", /environment assignment/],
    ["if true; then ls; fi", /control flow/],
    ["for f in a; do rm $f; done", /control flow|variable/],
    ["while true; do :; done", /control flow/],
    ["{ ls; }", /braces/],
    ["echo {a,b}", /braces/],
    ["rm {-rf,/}", /braces/],
    ["! ls", /control flow/],
    ["[[ -f x ]]", /control flow/],
    ["time", /without a command/],
    ["time time ls", /control flow/],
    ["case x in a) ls;; esac", /control flow|case/],
    ["f() { ls; }", /function|braces/],
    ["f() ls", /function/],
    ["'' -x", /empty/],
    ["eval 'rm -rf /'", /shell code/],
    ["source ./env.sh", /shell code/],
    [". ./env.sh", /shell code/],
    ["trap 'rm -rf /' EXIT", /shell code/],
    ["sleep 1 &", /background/],
    ["ls & rm -rf /", /background/],
    ["echo 'unterminated", /unbalanced single quote/],
    ['echo "unterminated', /unbalanced double quote/],
    ["echo \\", /backslash/],
    ["(ls", /unbalanced `\(`/],
    ["ls)", /unbalanced `\)`/],
    ["()", /empty subshell/],
    ["(ls) pwd", /after a subshell/],
    ["ls &&", /not followed by a command/],
    ["&& ls", /unexpected `&&`/],
    ["ls | | wc", /not followed by a command/],
    ["ls ;; pwd", /case/],
    ["", /no command/],
    ["   # only a comment", /no command/],
    ["*.sh", /glob/],
    ["./run?.sh", /glob/],
    ["bash -c", /without a script/],
    ["=rm -rf /", /expanded by zsh/],
    ["repeat 3 rm x", /control flow/],
    ["foreach f (a b) rm x; end", /control flow/],
    ["ls *(e:'rm -rf /':)", /function|unexpected/],
    ["env -i rm -rf /", /changes how the command runs/],
    ["env -S 'rm -rf /'", /changes how the command runs/],
    ["exec -a x rm", /changes how the command runs/],
    ["exec", /without a command/],
    ["bash -c 'echo $HOME'", /variable expansion/],
    ["sh -c \"ls > out\"", /writes a file/],
  ];
  it.each(refused)("refuses %j", (line, reason) => {
    expect(refusal(line)).toMatch(reason);
  });

  it("reports unquoted glob words per command", () => {
    const r = splitCommandLine("ls *.ts 'x*' && grep -r foo src/[ab]*");
    expect(r).toEqual({
      ok: true,
      commands: [["ls", "*.ts", "x*"], ["grep", "-r", "foo", "src/[ab]*"]],
      globs: [[1], [3]],
    });
  });

  it("marks tilde prefixes as words the shell may expand", () => {
    expect(splitCommandLine("cat ~/x a=~/y '~' b~")).toEqual({ ok: true, commands: [["cat", "~/x", "a=~/y", "~", "b~"]], globs: [[1, 2]] });
    expect(refusal("~/bin/tool")).toMatch(/expands/);
  });

  it("keeps glob indexes aligned after removing wrappers", () => {
    const r = splitCommandLine("env nohup rm -f *.o");
    expect(r).toEqual({ ok: true, commands: [["rm", "-f", "*.o"]], globs: [[2]] });
  });

  it("bounds nesting of subshells and sh -c scripts", () => {
    const nest = (depth: number) => "(".repeat(depth) + "ls" + ")".repeat(depth);
    expect(splitCommandLine(nest(MAX_SHELL_DEPTH)).ok).toBe(true);
    expect(refusal(nest(MAX_SHELL_DEPTH + 1))).toMatch(/nested deeper/);
    let script = "ls";
    for (let i = 0; i < MAX_SHELL_DEPTH + 1; i++) script = `sh -c ${shellQuote(script)}`;
    expect(refusal(script)).toMatch(/nested deeper/);
    expect(refusal("(".repeat(60_000))).toMatch(/nested deeper/);
  });

  it("refuses lines over the length cap without reading them", () => {
    expect(refusal("ls ".repeat(30_000))).toMatch(/longer than/);
    expect(splitCommandLine("ls -la", { maxLength: 3 })).toEqual({ ok: false, reason: "command line longer than 3 characters" });
  });

  it("caps the number of simple commands", () => {
    expect(refusal("true;".repeat(600))).toMatch(/more than 512 simple commands/);
  });

  it("never throws and always returns commands with a program, whatever the input", () => {
    const alphabet = fc.constantFrom(..."ab -|&;()<>'\"\\$`*?[]{}#=\n\t!~/0123456789".split(""));
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 80 }).map((cs) => cs.join("")), (line) => {
        const r = splitCommandLine(line);
        if (r.ok) {
          expect(r.commands.length).toBeGreaterThan(0);
          for (const argv of r.commands) expect(argv.length).toBeGreaterThan(0);
          expect(r.globs.length).toBe(r.commands.length);
        } else {
          expect(r.reason.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("round-trips any argv quoted with single quotes", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 8 }), (argv) => {
        fc.pre(!/^[A-Za-z_][A-Za-z0-9_]*=/.test(argv[0]!) && !["eval", "source", ".", "trap", "alias", "env", "nohup", "exec", "command", "builtin", "bash", "sh", "zsh", "dash"].includes(argv[0]!));
        const r = splitCommandLine(argv.map(shellQuote).join(" "));
        expect(r).toEqual({ ok: true, commands: [argv], globs: [[]] });
      }),
      { numRuns: 1000 },
    );
  });

  it("does work linear in the input (a long hostile line finishes)", () => {
    const hostile = "'".repeat(60_001) + '"'.repeat(4_000);
    expect(splitCommandLine(hostile).ok).toBe(false);
    const words = "a ".repeat(30_000);
    expect(splitCommandLine(words).ok).toBe(true);
  });
});

describe("splitArgv", () => {
  it("takes a plain argv as one command with nothing expanded", () => {
    expect(splitArgv(["rm", "-rf", "*", "$HOME"])).toEqual({ ok: true, commands: [["rm", "-rf", "*", "$HOME"]], globs: [[]] });
  });
  it("splits the script of a shell wrapper", () => {
    expect(splitArgv(["/bin/bash", "-lc", "git status; git push"])).toEqual({
      ok: true,
      commands: [["git", "status"], ["git", "push"]],
      globs: [[], []],
    });
  });
  it("refuses an unsafe script and an empty argv", () => {
    expect(splitArgv(["bash", "-c", "echo $(id)"]).ok).toBe(false);
    expect(splitArgv([]).ok).toBe(false);
  });
  it("keeps a program whose name looks like an assignment (exec argv, no shell)", () => {
    expect(splitArgv(["A=1", "x"])).toEqual({ ok: true, commands: [["A=1", "x"]], globs: [[]] });
  });
});

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}
