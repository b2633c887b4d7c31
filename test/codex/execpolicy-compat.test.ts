// Codex users' rule files must mean the same under tether: the same files and commands go
// through the real Codex CLI (`codex execpolicy check --resolve-host-executables`, as Codex's
// core checks, pinned in package.json) and through ExecPolicy; the matched rules and
// decisions must agree, as must which files load.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExecPolicy } from "../../services/agent-server/policy/exec-policy.js";
import { CODEX_BIN, RUN_DIR, requireCodex } from "../support/codex-cli.js";

const RULES = `
# A Codex-style rule file: comments, alternatives, examples, trailing commas, positional args.
prefix_rule(
    pattern = ["git", ["status", "diff", "log"]],
    decision = "allow",
    match = [["git", "status"], "git log -n 1"],
    not_match = ["git push"],
)
prefix_rule(pattern=["git", "push"], decision="prompt", justification="it publishes work",)
prefix_rule(pattern=["git", "push", ["--force", "-f"]], decision="forbidden", justification='no force pushes')
prefix_rule(["npm", "test"])
prefix_rule(pattern=[["rm", "unlink"], "-rf"], decision="forbidden")
network_rule(host="api.github.com", protocol="https", decision="deny", justification="no API")
host_executable(name="npm", paths=["/usr/bin/npm"])
`;

const COMMANDS: string[][] = [
  ["git", "status", "--short"],
  ["git", "push", "origin", "main"],
  ["git", "push", "-f"],
  ["git", "fetch"],
  ["npm", "test", "--", "--watch=false"],
  ["unlink", "-rf", "x"],
  ["rm", "x"],
  ["ls"],
  // Absolute paths resolve to the base name's rules (host_executable restricts which paths).
  ["/usr/bin/git", "status"],
  ["/usr/local/bin/git", "push", "--force"],
  ["/usr/bin/npm", "test"],
  ["/opt/npm", "test"],
];

interface CodexMatch {
  prefixRuleMatch: { matchedPrefix: string[]; decision: string; justification?: string };
}

let home: string;
let dir: string;

function codexCheck(rulesFile: string, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      CODEX_BIN,
      ["execpolicy", "check", "--resolve-host-executables", "--rules", rulesFile, "--", ...argv],
      { env: { ...process.env, CODEX_HOME: home }, timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") return reject(new Error(`codex did not run: ${err.message}`, { cause: err }));
        resolve({ code: typeof err?.code === "number" ? err.code : 0, stdout, stderr });
      },
    );
  });
}

describe("execpolicy compatibility with the Codex CLI", () => {
  beforeAll(async () => {
    requireCodex();
    await mkdir(RUN_DIR, { recursive: true });
    dir = await mkdtemp(path.join(RUN_DIR, "execpolicy-"));
    home = path.join(dir, "codex-home");
    await mkdir(home);
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("matches the same rules with the same decisions as Codex", async () => {
    const file = path.join(dir, "compat.rules");
    await writeFile(file, RULES);
    const ours = ExecPolicy.parse(RULES, file);
    for (const argv of COMMANDS) {
      const codex = await codexCheck(file, argv);
      expect(codex.code, codex.stderr).toBe(0);
      const theirs = JSON.parse(codex.stdout) as { matchedRules: CodexMatch[]; decision?: string };
      const mine = ours.check(argv);
      expect({ argv, decision: mine?.decision, matched: (mine?.matchedRules ?? []).map((m) => ({ prefix: m.matchedPrefix, decision: m.decision, justification: m.justification })) }).toEqual({
        argv,
        decision: theirs.decision,
        matched: theirs.matchedRules.map((m) => ({ prefix: m.prefixRuleMatch.matchedPrefix, decision: m.prefixRuleMatch.decision, justification: m.prefixRuleMatch.justification })),
      });
    }
  });

  it.each([
    ["bad decision", 'prefix_rule(pattern=["a"], decision="maybe")\n'],
    ["empty pattern", 'prefix_rule(pattern=[], decision="allow")\n'],
    ["example that does not match", 'prefix_rule(pattern=["git", "push"], match=["git pull"])\n'],
    ["not_match example that matches", 'prefix_rule(pattern=["git"], not_match=["git status"])\n'],
    ["unknown argument", 'prefix_rule(pattern=["a"], colour="red")\n'],
    ["empty justification", 'prefix_rule(pattern=["a"], justification="")\n'],
    ["wildcard-free network rule with a scheme", 'network_rule(host="https://x.com", protocol="https", decision="allow")\n'],
  ])("refuses a file Codex refuses: %s", async (_name, text) => {
    const file = path.join(dir, "bad.rules");
    await writeFile(file, text);
    const codex = await codexCheck(file, ["a"]);
    expect(codex.code, codex.stdout).not.toBe(0);
    expect(() => ExecPolicy.parse(text, file)).toThrow(/bad\.rules:\d+:\d+: /);
  });
});
