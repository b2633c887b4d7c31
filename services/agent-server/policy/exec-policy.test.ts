import { chmod, mkdtemp, readFile, rm, stat, writeFile, mkdir, readdir } from "node:fs/promises";
import { execFile } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import { appendNetworkRule, appendPrefixRule, defaultRulesFile, rulesDir } from "./append-rule.js";
import { ExecPolicy } from "./exec-policy.js";

const RULES = `
# Codex-style rules: comments, trailing commas, alternatives, examples.
prefix_rule(
    pattern = ["git", ["status", "diff", "log"]],  # read-only git
    decision = "allow",
    match = [["git", "status"], "git log -n 1"],
    not_match = ["git push", ["git"]],
)
prefix_rule(pattern=["git", "push"], decision="prompt", justification="pushing publishes work",)
prefix_rule(pattern=["git", "push", "--force"], decision="forbidden", justification='never force-push')
prefix_rule(["rm", ["-rf", "-fr"]], "forbidden")
prefix_rule(pattern=["cargo"])
network_rule(host="*.github.com", protocol="https", decision="allow")
network_rule(host="api.github.com", decision="deny", justification="no API calls")
network_rule(host="pypi.org:443", decision="prompt")
host_executable(name="cargo", paths=["/usr/local/bin/cargo"])
`;

function errorOf(fn: () => unknown): TetherError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TetherError) return err;
    throw err;
  }
  throw new Error("expected a TetherError");
}

describe("ExecPolicy.parse and check", () => {
  const policy = ExecPolicy.parse(RULES, "test.rules");

  it.each([
    [["git", "status", "--short"], "allow"],
    [["git", "diff"], "allow"],
    [["git", "push", "origin"], "prompt"],
    [["git", "push", "--force", "origin"], "forbidden"],
    [["rm", "-fr", "/"], "forbidden"],
    [["cargo", "build"], "allow"],
    [["/usr/local/bin/cargo", "test"], "allow"],
  ])("decides %j → %s (strictest matching rule)", (argv, decision) => {
    expect(policy.check(argv)?.decision).toBe(decision);
  });

  it.each([[["git"]], [["git", "fetch"]], [["ls"]], [["/tmp/evil/cargo", "build"]], [["bin/cargo", "build"]], [["rm", "x"]], [[]]])("matches nothing for %j", (argv) => {
    expect(policy.check(argv)).toBeUndefined();
  });

  it("reaches forbidden and prompt rules through any path, allow rules through absolute paths as Codex resolves them", () => {
    expect(policy.check(["/usr/bin/git", "push", "--force"])?.decision).toBe("forbidden");
    expect(policy.check(["./git", "push", "--force"])?.decision).toBe("forbidden");
    expect(policy.check(["/usr/bin/git", "status"])?.decision).toBe("allow"); // no host_executable for git
    expect(policy.check(["./git", "status"])).toBeUndefined(); // relative: not the host's git
    expect(policy.check(["/opt/cargo", "build"])).toBeUndefined(); // cargo's host_executable lists other paths
  });

  it("reports every matched rule with its prefix and justification", () => {
    const ev = policy.check(["git", "push", "--force"])!;
    expect(ev.matchedRules.map((m) => [m.decision, m.matchedPrefix, m.justification])).toEqual([
      ["prompt", ["git", "push"], "pushing publishes work"],
      ["forbidden", ["git", "push", "--force"], "never force-push"],
    ]);
    expect(ev.matchedRules[1]!.rule.source).toEqual({ file: "test.rules", line: 10, column: 1 });
  });

  it("checks each simple command of a line; the strictest wins", () => {
    const r = policy.checkCommandLine("git status && (git diff | cat) ; bash -lc 'git push --force'");
    expect(r.unparseable).toBe(false);
    expect(r.decision).toBe("forbidden");
    expect(r.commands.map((c) => [c.argv[0], c.evaluation?.decision])).toEqual([
      ["git", "allow"],
      ["git", "allow"],
      ["cat", undefined],
      ["git", "forbidden"],
    ]);
    expect(policy.checkCommandLine("ls | wc").decision).toBeUndefined();
  });

  it("counts an unparseable line as prompt, with the reason", () => {
    expect(policy.checkCommandLine("git status $(rm -rf /)")).toMatchObject({
      decision: "prompt",
      unparseable: true,
      reason: expect.stringMatching(/command substitution/),
      matchedRules: [],
    });
  });

  it("lets a glob word hit prompt/forbidden rules it could expand to, never allow rules", () => {
    expect(policy.checkCommandLine("git pu?h --forc*").decision).toBe("forbidden");
    expect(policy.checkCommandLine("rm -[rf][rf] /").decision).toBe("forbidden");
    expect(policy.checkCommandLine("git stat*").decision).toBeUndefined();
    expect(policy.checkCommandLine("git 'stat*'").decision).toBeUndefined();
  });

  it("finds forbidden and prompt rules behind programs that run other programs", () => {
    expect(policy.checkCommandLine("sudo -u root rm -rf /").decision).toBe("forbidden");
    expect(policy.checkCommandLine("find . -name x -exec rm -fr {} ;").decision).toBe("forbidden");
    expect(policy.checkCommandLine("timeout 5 git push").decision).toBe("prompt");
    expect(policy.checkCommandLine("xargs git status").decision).toBeUndefined(); // allow rules never reach through
    expect(policy.checkCommandLine("sudo sudo git push --force").decision).toBe("forbidden");
    const nested = `${"sudo ".repeat(40)}ls;`.repeat(300);
    expect(policy.checkCommandLine(nested).decision).toBeUndefined(); // linear in runners, not exponential
  });

  it("checks an exec argv, splitting a shell wrapper's script", () => {
    expect(policy.checkArgv(["/bin/zsh", "-c", "git status; rm -rf x"]).decision).toBe("forbidden");
    expect(policy.checkArgv(["git", "push", "$(x)"]).decision).toBe("prompt");
  });

  it("decides hosts by the strictest matching network rule", () => {
    expect(policy.networkDecision("codeload.github.com")).toBe("allow");
    expect(policy.networkDecision("API.GitHub.com.")).toBe("deny");
    expect(policy.networkDecision("pypi.org")).toBe("prompt");
    expect(policy.networkDecision("github.com")).toBeUndefined();
    expect(policy.networkDecision("example.com")).toBeUndefined();
    expect(policy.networkRules().map((r) => [r.host, r.decision, r.protocol])).toEqual([
      ["*.github.com", "allow", "https"],
      ["api.github.com", "deny", undefined],
      ["pypi.org", "prompt", undefined],
    ]);
    expect(policy.proxyHostLists()).toEqual({ allowHosts: ["*.github.com"], denyHosts: ["api.github.com"] });
  });

  it("reads strings with escapes, raw and triple-quoted strings", () => {
    const p = ExecPolicy.parse(
      `prefix_rule(pattern=["echo", "a\\tb", r"c\\d", """multi
line""", '\\u00e9\\x41\\101'], decision="forbidden"); prefix_rule(pattern=["x"])`,
      "s.rules",
    );
    expect(p.prefixRules[0]!.pattern).toEqual(["echo", "a\tb", "c\\d", "multi\nline", "éAA"]);
    expect(p.prefixRules).toHaveLength(2);
  });

  it("reads CRLF line ends and a leading byte-order mark", () => {
    const p = ExecPolicy.parse('\uFEFF# rules\r\nprefix_rule(\r\n  pattern=["ls"],\r\n)\r\nprefix_rule(pattern=["pwd"])\r\n', "w.rules");
    expect(p.prefixRules.map((r) => [r.pattern, r.source.line])).toEqual([[["ls"], 2], [["pwd"], 5]]);
  });

  it("accepts an empty file and a file of comments", () => {
    expect(ExecPolicy.parse("", "e.rules").prefixRules).toEqual([]);
    expect(ExecPolicy.parse("# nothing\n\n  # here\n", "e.rules").prefixRules).toEqual([]);
  });
});

describe("ExecPolicy rule file errors", () => {
  it.each([
    ['prefix_rule(pattern=["git"], decision="maybe")', 1, '"maybe"', /decision must be allow, prompt, forbidden/],
    ['prefix_rule(pattern=[], decision="allow")', 1, 21, /pattern cannot be empty/],
    ['prefix_rule(pattern=["git", []])', 1, 29, /alternatives cannot be empty/],
    ['prefix_rule(pattern=["git", [["x"]]])', 1, 30, /alternative must be a string/],
    ['prefix_rule(decision="allow")', 1, 1, /needs the argument pattern/],
    ['prefix_rule(pattern=["a"], colour="red")', 1, 28, /has no argument colour/],
    ['prefix_rule(pattern=["a"], pattern=["b"])', 1, 28, /given twice/],
    ['prefix_rule(pattern=["a"], justification=" ")', 1, 42, /justification cannot be empty/],
    ['\n\nprefix_rule(pattern="git")', 3, 21, /expected a list/],
    ['allow_rule(pattern=["git"])', 1, 1, /unknown function allow_rule/],
    ["prefix_rule(pattern=[git])", 1, 22, /found the name git/],
    ['prefix_rule(pattern=["git"]', 1, 28, /expected `,` or `\)`/],
    ['prefix_rule(pattern=["git"]) prefix_rule(pattern=["ls"])', 1, 30, /expected a new line/],
    ['x = ["git"]', 1, 3, /only calls are supported/],
    ['prefix_rule(pattern=["a" + "b"])', 1, 26, /unexpected character "\+"/],
    ['prefix_rule(pattern=["unclosed])', 1, 22, /string is not closed/],
    ['prefix_rule(pattern=["a\nb"])', 1, '"a', /not closed on its line/],
    ['prefix_rule(pattern=["bad \\q"])', 1, 22, /unknown escape \\q/],
    ['prefix_rule(pattern=["git", "push"], match=["git pull"])', 1, 1, /match example "git pull" does not match/],
    ['prefix_rule(pattern=["git", "push"], not_match=[["git", "push", "-f"]])', 1, 1, /not_match example "git push -f" matches/],
    ['prefix_rule(pattern=["git"], match=["git $(x)"])', 1, '"git $', /words and quotes only/],
    ['network_rule(host="https://x.com", decision="allow")', 1, 19, /without scheme or path/],
    ['network_rule(host="x.com", decision="maybe")', 1, 37, /decision must be allow, prompt, deny, forbidden/],
    ['network_rule(host="x.com", decision="allow", protocol="ftp")', 1, 55, /protocol must be one of/],
    ['host_executable(name="git", paths=["usr/bin/git"])', 1, 36, /must be absolute/],
    ['prefix_rule(["a"], "allow", [], [], "j", "extra")', 1, '"extra"', /at most 5 arguments/],
    ['prefix_rule(pattern=["a"], "allow")', 1, 28, /positional argument cannot follow/],
  ] as [string, number, number | string, RegExp][])("refuses %j at line %i column %s", (text, line, at, reason) => {
    // A string column names the text the error must point at.
    const column = typeof at === "number" ? at : text.split("\n")[line - 1]!.indexOf(at) + 1;
    const err = errorOf(() => ExecPolicy.parse(text, "bad.rules"));
    expect(err.code).toBe(ErrorCode.InvalidArgument);
    expect(err.message).toMatch(reason);
    expect(err.message.startsWith(`bad.rules:${line}:${column}: `)).toBe(true);
    expect(err.details).toEqual({ file: "bad.rules", line: String(line), column: String(column) });
  });

  it("refuses a host glob the exec layer's proxy would refuse", () => {
    const err = errorOf(() => ExecPolicy.parse(`network_rule(host="${"a*".repeat(150)}.com", decision="allow")`, "h.rules"));
    expect(err.message).toMatch(/^h\.rules:1:19: host "a\*a\*.*is not a host name or glob/);
  });

  it("bounds list nesting and file size", () => {
    expect(errorOf(() => ExecPolicy.parse(`prefix_rule(pattern=${"[".repeat(50)}`, "n.rules")).message).toMatch(/nested deeper/);
    expect(errorOf(() => ExecPolicy.parse(" ".repeat(1024 * 1024 + 1), "big.rules")).message).toMatch(/larger than/);
  });
});

describe("ExecPolicy.load and appending rules", () => {
  let home: string;
  beforeEach(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), "tether-rules-"));
  });
  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it("treats a missing rules directory as an empty policy", async () => {
    const p = await ExecPolicy.load(rulesDir(home));
    expect(p.prefixRules).toEqual([]);
  });

  it("loads every *.rules file in name order and ignores other files", async () => {
    await mkdir(rulesDir(home));
    await writeFile(path.join(rulesDir(home), "b.rules"), 'prefix_rule(pattern=["b"])\n');
    await writeFile(path.join(rulesDir(home), "a.rules"), 'prefix_rule(pattern=["a"], decision="prompt")\n');
    await writeFile(path.join(rulesDir(home), "notes.txt"), "not a rule file");
    const p = await ExecPolicy.load(rulesDir(home));
    expect(p.prefixRules.map((r) => [r.pattern[0], path.basename(r.source.file)])).toEqual([
      ["a", "a.rules"],
      ["b", "b.rules"],
    ]);
  });

  it("names the bad file, line and column when one file is broken", async () => {
    await mkdir(rulesDir(home));
    await writeFile(path.join(rulesDir(home), "good.rules"), 'prefix_rule(pattern=["a"])\n');
    await writeFile(path.join(rulesDir(home), "zz.rules"), '# header\nprefix_rule(pattern=["a"], decision="nope")\n');
    await expect(ExecPolicy.load(rulesDir(home))).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
      message: expect.stringContaining(`${path.join(rulesDir(home), "zz.rules")}:2:37: decision must be`),
    });
  });

  it("appends an accepted rule (creating the directory), then a reload applies it", async () => {
    const file = defaultRulesFile(home);
    expect(ExecPolicy.empty().check(["npm", "test"])).toBeUndefined();
    await appendPrefixRule(file, { pattern: ["npm", "test"], decision: "allow" });
    await appendPrefixRule(file, { pattern: ["echo", 'say "hi"\n\\'], decision: "forbidden", justification: "quotes survive" });
    const text = await readFile(file, "utf8");
    expect(text).toBe(
      'prefix_rule(pattern=["npm", "test"], decision="allow")\n' +
        'prefix_rule(pattern=["echo", "say \\"hi\\"\\n\\\\"], decision="forbidden", justification="quotes survive")\n',
    );
    const p = await ExecPolicy.load(rulesDir(home));
    expect(p.check(["npm", "test", "--watch"])?.decision).toBe("allow");
    expect(p.check(["echo", 'say "hi"\n\\'])?.matchedRules[0]?.justification).toBe("quotes survive");
  });

  it("adds no duplicate line and ends an unterminated last line first", async () => {
    const file = defaultRulesFile(home);
    await mkdir(path.dirname(file));
    await writeFile(file, 'prefix_rule(pattern=["ls"], decision="allow")', { mode: 0o640 });
    await chmod(file, 0o640);
    await appendPrefixRule(file, { pattern: ["ls"], decision: "allow" });
    await appendPrefixRule(file, { pattern: ["pwd"], decision: "allow" });
    await appendPrefixRule(file, { pattern: ["pwd"], decision: "allow" });
    expect(await readFile(file, "utf8")).toBe('prefix_rule(pattern=["ls"], decision="allow")\nprefix_rule(pattern=["pwd"], decision="allow")\n');
    expect((await stat(file)).mode & 0o777).toBe(0o640);
  });

  it("keeps every line when appends race, and leaves no temporary files", async () => {
    const file = defaultRulesFile(home);
    await Promise.all(Array.from({ length: 20 }, (_, i) => appendPrefixRule(file, { pattern: [`tool${i}`], decision: "allow" })));
    const p = await ExecPolicy.load(rulesDir(home));
    expect(p.prefixRules).toHaveLength(20);
    expect(await readdir(rulesDir(home))).toEqual(["default.rules"]);
  });

  it("keeps every line when separate processes append at once", async () => {
    const file = defaultRulesFile(home);
    const module = path.resolve("services/agent-server/policy/append-rule.ts");
    // Real processes racing on one file (vite-node runs the TypeScript module as it is).
    const runs = [0, 1, 2].map(async (i) => {
      const script = path.join(home, `append-${i}.ts`);
      await writeFile(
        script,
        `import { appendPrefixRule } from ${JSON.stringify(module)};\n` +
          `for (let j = 0; j < 10; j++) await appendPrefixRule(${JSON.stringify(file)}, { pattern: ["p${i}", "n" + j], decision: "allow" });\n`,
      );
      await new Promise<void>((resolve, reject) => {
        execFile(process.execPath, [path.resolve("node_modules/vite-node/vite-node.mjs"), script], { timeout: 60_000 }, (err, _out, stderr) =>
          err ? reject(new Error(`${err.message}: ${stderr}`)) : resolve(),
        );
      });
    });
    await Promise.all(runs);
    const p = await ExecPolicy.load(rulesDir(home));
    expect(p.prefixRules).toHaveLength(30);
  });

  it("appends network rules and refuses rules the loader would not read", async () => {
    const file = defaultRulesFile(home);
    await appendNetworkRule(file, { host: "registry.npmjs.org", decision: "allow" });
    expect((await ExecPolicy.load(rulesDir(home))).networkDecision("registry.npmjs.org")).toBe("allow");
    await expect(appendPrefixRule(file, { pattern: [], decision: "allow" })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    await expect(appendNetworkRule(file, { host: "http://x/y", decision: "deny" })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
  });
});
