import { describe, expect, it } from "vitest";
import type { ApprovalPolicy, Assessment, ProposedAction, SandboxMode } from "./approval-types.js";
import { assessAction, escalationDecision, promptRejection, proposeRule } from "./assess-action.js";
import { ExecPolicy } from "./exec-policy.js";
import { SessionGrants } from "./session-grants.js";

const execPolicy = ExecPolicy.parse(
  `
prefix_rule(pattern=["git", "push"], decision="prompt", justification="it publishes work")
prefix_rule(pattern=["rm", ["-rf", "-fr"]], decision="forbidden", justification="use trash")
prefix_rule(pattern=["npm", "test"], decision="allow")
prefix_rule(pattern=["make"], decision="allow")
network_rule(host="*.npmjs.org", decision="allow")
network_rule(host="evil.example", decision="deny", justification="exfiltration")
network_rule(host="pypi.org", decision="prompt")
`,
  "policy.rules",
);

const cmd = (line: string, escalated = false): ProposedAction => ({ kind: "command", commandLine: line, argv: ["bash", "-lc", line], cwd: "/w", escalated });
const retry = (line: string): ProposedAction => ({ kind: "retry_unsandboxed", commandLine: line, argv: ["bash", "-lc", line], cwd: "/w", failure: "Read-only file system" });
const files = (outside: boolean): ProposedAction => ({ kind: "file_change", paths: ["/w/a.ts", outside ? "/etc/hosts" : "/w/b.ts"], outsideWritableRoots: outside });
const net = (host: string): ProposedAction => ({ kind: "network", host, port: 443 });
const esc = (...argv: string[]): ProposedAction => ({ kind: "escalation", file: `/usr/bin/${argv[0]}`, argv, cwd: "/w" });

function assess(action: ProposedAction, approvalPolicy: ApprovalPolicy, sandbox: SandboxMode = "workspace-write", grants?: SessionGrants): Assessment {
  return assessAction(action, { approvalPolicy, sandbox, execPolicy, ...(grants ? { grants } : {}) });
}

type Row = [string, ProposedAction, ApprovalPolicy, SandboxMode, string];
// Expected: "skip" (sandboxed), "skip!" (unsandboxed), "ask:KIND", "ask!:KIND" (unsandboxed once accepted), "forbidden".
const rows: Row[] = [
  // forbidden rules win everywhere, even in full access and through wrappers.
  ["forbidden rule", cmd("ls && rm -rf /tmp/x"), "never", "full-access", "forbidden"],
  ["forbidden rule in sh -c", cmd("bash -c 'rm -fr x'"), "on-request", "workspace-write", "forbidden"],
  ["forbidden rule via glob", cmd("rm -?f x"), "untrusted", "workspace-write", "forbidden"],
  // allow rules skip the prompt and the sandbox (every command allowed).
  ["allow rule", cmd("npm test -- --watch=false"), "untrusted", "workspace-write", "skip!"],
  ["allow rule + unmatched", cmd("make && cargo build"), "on-request", "workspace-write", "skip"],
  ["allow rule + unmatched untrusted", cmd("make && cargo build"), "untrusted", "workspace-write", "ask:sandbox_approval"],
  // prompt rules ask in every mode; never declines.
  ["prompt rule", cmd("git push origin main"), "on-request", "workspace-write", "ask:rules"],
  ["prompt rule full access", cmd("git push"), "on-failure", "full-access", "ask:rules"],
  ["prompt rule never", cmd("git push"), "never", "full-access", "forbidden"],
  ["prompt rule granular reject", cmd("git push"), { mode: "on-request", reject: ["rules"] }, "workspace-write", "forbidden"],
  ["prompt rule granular other", cmd("git push"), { mode: "on-request", reject: ["sandbox_approval"] }, "workspace-write", "ask:rules"],
  // unparseable lines ask (rules), never declines them.
  ["unparseable", cmd("echo $(id)"), "on-request", "workspace-write", "ask:rules"],
  ["unparseable never", cmd("echo $(id)"), "never", "workspace-write", "forbidden"],
  // untrusted: known-safe read-only commands run, the rest asks.
  ["untrusted safe", cmd("ls -la && git status && rg foo | head -n 5"), "untrusted", "workspace-write", "skip"],
  ["untrusted safe sed", cmd("sed -n 1,20p file.ts"), "untrusted", "read-only", "skip"],
  ["untrusted unsafe", cmd("cargo build"), "untrusted", "workspace-write", "ask:sandbox_approval"],
  ["untrusted find -delete", cmd("find . -name x -delete"), "untrusted", "workspace-write", "ask:sandbox_approval"],
  ["untrusted git -c pager", cmd("git -c core.pager=sh log"), "untrusted", "workspace-write", "ask:sandbox_approval"],
  ["untrusted find glob", cmd("find *"), "untrusted", "workspace-write", "ask:sandbox_approval"],
  ["untrusted safe escalated stays sandboxed", cmd("ls", true), "untrusted", "workspace-write", "skip"],
  // on-request: sandboxed unless the model escalates; dangerous always asks.
  ["on-request plain", cmd("cargo build"), "on-request", "workspace-write", "skip"],
  ["on-request escalated", cmd("cargo build", true), "on-request", "workspace-write", "ask!:sandbox_approval"],
  ["on-request escalated full access", cmd("cargo build", true), "on-request", "full-access", "skip"],
  ["on-request dangerous", cmd("git reset --hard"), "on-request", "full-access", "ask:sandbox_approval"],
  ["on-request granular sandbox reject", cmd("cargo build", true), { mode: "on-request", reject: ["sandbox_approval"] }, "workspace-write", "forbidden"],
  // on-failure: everything sandboxed first; asks only for a retry without the sandbox.
  ["on-failure escalated", cmd("cargo build", true), "on-failure", "workspace-write", "skip"],
  ["on-failure retry", retry("cargo build"), "on-failure", "workspace-write", "ask!:sandbox_approval"],
  ["on-request retry", retry("cargo build"), "on-request", "read-only", "ask!:sandbox_approval"],
  ["never retry", retry("cargo build"), "never", "workspace-write", "forbidden"],
  ["retry full access", retry("cargo build"), "on-failure", "full-access", "skip"],
  ["retry of allowed", retry("make"), "on-failure", "workspace-write", "skip!"],
  // never: runs sandboxed, dangerous declined.
  ["never plain", cmd("cargo build", true), "never", "workspace-write", "skip"],
  ["never dangerous", cmd("sudo rm -f x"), "never", "workspace-write", "forbidden"],
  // file changes.
  ["files inside", files(false), "on-request", "workspace-write", "skip"],
  ["files outside", files(true), "on-request", "workspace-write", "ask!:sandbox_approval"],
  ["files read-only sandbox", files(false), "on-request", "read-only", "ask!:sandbox_approval"],
  ["files untrusted", files(false), "untrusted", "workspace-write", "ask:sandbox_approval"],
  ["files on-failure outside", files(true), "on-failure", "workspace-write", "skip"],
  ["files never outside", files(true), "never", "workspace-write", "forbidden"],
  ["files full access", files(true), "untrusted", "full-access", "skip"],
  // network: rules, then ask.
  ["net allow rule", net("registry.npmjs.org"), "untrusted", "workspace-write", "skip"],
  ["net deny rule", net("EVIL.example"), "on-request", "full-access", "forbidden"],
  ["net prompt rule", net("pypi.org"), "on-request", "full-access", "ask:rules"],
  ["net unknown", net("example.com"), "on-request", "workspace-write", "ask:sandbox_approval"],
  ["net unknown never", net("example.com"), "never", "workspace-write", "forbidden"],
  ["net unknown full access", net("example.com"), "on-request", "full-access", "skip"],
  // permissions.
  ["permissions", { kind: "permissions", reason: "needs ~/.cache", writableRoots: ["/root/.cache"] }, "on-request", "workspace-write", "ask:request_permissions"],
  ["permissions rejected", { kind: "permissions", reason: "x", network: true }, { mode: "untrusted", reject: ["request_permissions"] }, "workspace-write", "forbidden"],
  // zsh-fork escalations.
  ["esc allow rule", esc("npm", "test"), "on-request", "workspace-write", "skip!"],
  ["esc forbidden", esc("rm", "-rf", "/"), "on-request", "workspace-write", "forbidden"],
  ["esc prompt rule", esc("git", "push"), "on-request", "workspace-write", "ask!:rules"],
  ["esc plain", esc("cargo", "build"), "on-request", "workspace-write", "skip"],
  ["esc untrusted", esc("cargo", "build"), "untrusted", "workspace-write", "ask:sandbox_approval"],
  ["esc shell script", esc("bash", "-c", "git status; rm -rf x"), "never", "workspace-write", "forbidden"],
  ["esc one-command script, prompt rule", esc("bash", "-c", "git push"), "on-request", "workspace-write", "ask!:rules"],
  ["esc several-command script, prompt rule", esc("bash", "-c", "git push && cargo build"), "on-request", "workspace-write", "ask:rules"],
  ["esc resolved path", { kind: "escalation", file: "/usr/local/bin/npm", argv: ["npm", "test"], cwd: "/w" }, "on-request", "workspace-write", "skip!"],
  ["esc relative file", { kind: "escalation", file: "./npm", argv: ["npm", "test"], cwd: "/w" }, "on-request", "workspace-write", "skip"],
];

function summary(a: Assessment): string {
  if (a.type === "forbidden") return "forbidden";
  if (a.type === "skip") return a.unsandboxed ? "skip!" : "skip";
  return `${a.unsandboxedOnAccept ? "ask!" : "ask"}:${a.promptKind}`;
}

describe("assessAction", () => {
  it.each(rows)("%s", (_name, action, policy, sandbox, expected) => {
    const a = assess(action, policy, sandbox);
    expect(summary(a), JSON.stringify(a)).toBe(expected);
    expect(a.type === "skip" || a.reason.length > 0).toBe(true);
  });

  // Without a rule that asks or forbids, a line no one can split is what Codex makes of it: one
  // unmatched command, sandboxed by mode (was: always asked, so never declined `echo $(date)`).
  const onlyAllow = ExecPolicy.parse(`prefix_rule(pattern=["make"], decision="allow")`, "allow.rules");
  it.each<[string, ProposedAction, ApprovalPolicy, SandboxMode, string]>([
    ["never", cmd("echo $(date) > out.txt"), "never", "workspace-write", "skip"],
    ["on-failure", cmd("for f in *.ts; do wc -l $f; done"), "on-failure", "workspace-write", "skip"],
    ["on-request", cmd("sleep 1 & echo hi"), "on-request", "read-only", "skip"],
    ["on-request escalated", cmd("FOO=1 make", true), "on-request", "workspace-write", "ask!:sandbox_approval"],
    ["on-request escalated full access", cmd("FOO=1 make", true), "on-request", "full-access", "skip"],
    ["untrusted", cmd("echo $(id)"), "untrusted", "workspace-write", "ask:sandbox_approval"],
    ["empty policy never", cmd("echo $(id)"), "never", "full-access", "skip"],
    ["esc script", esc("bash", "-c", "echo $(id)"), "on-request", "workspace-write", "skip"],
  ])("unparseable, no rule that asks or forbids: %s", (_name, action, policy, sandbox, expected) => {
    const rules = _name.startsWith("empty") ? ExecPolicy.empty() : onlyAllow;
    const a = assessAction(action, { approvalPolicy: policy, sandbox, execPolicy: rules });
    expect(summary(a), JSON.stringify(a)).toBe(expected);
    if (a.type !== "skip" && action.kind === "command") expect(a.reason).toContain(action.commandLine);
  });

  it("names the rule, its file and justification when forbidding", () => {
    const a = assess(cmd("rm -rf build"), "never");
    expect(a).toEqual({ type: "forbidden", reason: expect.stringMatching(/`rm -rf` is forbidden by rule \["rm",\["-rf","-fr"\]\] \(policy\.rules:3\): use trash/) });
  });

  it("asks about a retry for the whole line, proposing a rule for its first unmatched command", () => {
    const a = assess(retry("make && cargo build --release"), "on-failure");
    expect(a).toMatchObject({
      type: "needs_approval",
      reason: "the sandbox refused the command (Read-only file system); run it again without the sandbox?",
      unsandboxedOnAccept: true,
      proposedRule: { pattern: ["cargo", "build"] },
    });
  });

  it("tells the model why a prompt was declined under never", () => {
    const a = assess(cmd("git push"), "never");
    expect(a.type === "forbidden" && a.reason).toMatch(/it publishes work.*approval policy is "never"/);
  });

  it("proposes program + subcommand of the command that asked, never for an unparseable line or a prompt rule", () => {
    const a = assess(cmd("ls && cargo build --release"), "untrusted");
    expect(a).toMatchObject({ type: "needs_approval", proposedRule: { pattern: ["cargo", "build"], decision: "allow" } });
    expect(assess(cmd("echo $(id)"), "on-request")).not.toHaveProperty("proposedRule");
    expect(assess(cmd("git push"), "on-request")).not.toHaveProperty("proposedRule");
    expect(assess(cmd("python3 -c 'print(1)'"), "untrusted")).not.toHaveProperty("proposedRule");
  });

  it.each([
    [["git", "push", "origin"], ["git", "push"]],
    [["git", "-C", "x", "push"], undefined],
    [["ls", "-la"], ["ls"]],
    [["cargo", "test", "--all"], ["cargo", "test"]],
    [["./run.sh", "Build.ts"], ["./run.sh"]],
    [["bash", "-lc", "x"], undefined],
    [["/usr/bin/python3", "x.py"], undefined],
  ])("proposeRule(%j) → %j", (argv, pattern) => {
    expect(proposeRule(argv)?.pattern).toEqual(pattern);
  });

  it("lets session grants skip what was accepted, but never past a forbidden rule", () => {
    const grants = new SessionGrants();
    const build = cmd("cargo build --release", true);
    expect(summary(assess(build, "on-request", "workspace-write", grants))).toBe("ask!:sandbox_approval");
    grants.grantFor(build);
    expect(summary(assess(build, "on-request", "workspace-write", grants))).toBe("skip!");
    expect(summary(assess(cmd("cargo build --release"), "untrusted", "workspace-write", grants))).toBe("skip");
    expect(summary(assess(cmd("cargo build"), "untrusted", "workspace-write", grants))).toBe("ask:sandbox_approval");

    const odd = cmd("echo $(date)");
    grants.grantFor(odd);
    expect(summary(assess(odd, "never", "workspace-write", grants))).toBe("skip");

    grants.grantCommandPrefix(["rm"]);
    expect(summary(assess(cmd("rm -rf x"), "untrusted", "workspace-write", grants))).toBe("forbidden");

    grants.grantFor(net("example.com"));
    expect(summary(assess(net("Example.com."), "on-request", "workspace-write", grants))).toBe("skip");
    expect(summary(assess(net("evil.example"), "on-request", "workspace-write", grants))).toBe("forbidden");

    grants.grantFor(files(true));
    expect(summary(assess({ kind: "file_change", paths: ["/etc/other"], outsideWritableRoots: true }, "on-request", "workspace-write", grants))).toBe("skip!");
    expect(summary(assess({ kind: "file_change", paths: ["/etc/../usr/x"], outsideWritableRoots: true }, "on-request", "workspace-write", grants))).toBe("ask!:sandbox_approval");

    grants.grantFor(esc("cargo", "build"));
    expect(summary(assess(esc("cargo", "run"), "untrusted", "workspace-write", grants))).toBe("skip!");
    expect(summary(assess(esc("git", "push"), "on-request", "workspace-write", grants))).toBe("ask!:rules");
  });

  it("says when a policy declines a prompt kind without asking (MCP elicitations too)", () => {
    expect(promptRejection("on-request", "mcp_elicitations")).toBeUndefined();
    expect(promptRejection("never", "mcp_elicitations")).toMatch(/never/);
    expect(promptRejection({ mode: "untrusted", reject: ["mcp_elicitations"] }, "mcp_elicitations")).toMatch(/rejects mcp_elicitations prompts/);
    expect(promptRejection({ mode: "untrusted", reject: ["mcp_elicitations"] }, "rules")).toBeUndefined();
  });

  it("maps assessments and answers to the exec layer's run | escalate | deny", () => {
    expect(escalationDecision(assess(esc("npm", "test"), "on-request"))).toBe("escalate");
    expect(escalationDecision(assess(esc("cargo", "build"), "on-request"))).toBe("run");
    expect(escalationDecision(assess(esc("rm", "-rf", "/"), "on-request"))).toBe("deny");
    expect(escalationDecision({ allowed: true, unsandboxed: true })).toBe("escalate");
    expect(escalationDecision({ allowed: true, unsandboxed: false })).toBe("run");
    expect(escalationDecision({ allowed: false, reason: "no", by: "user", cancelTurn: false })).toBe("deny");
    expect(() => escalationDecision(assess(esc("git", "push"), "on-request"))).toThrow(/answered first/);
  });
});
