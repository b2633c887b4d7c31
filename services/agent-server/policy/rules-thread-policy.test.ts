import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../../common/tether-error.js";
import type { PolicyContext } from "../thread/thread-services.js";
import type { ProposedAction } from "./approval-types.js";
import { RulesThreadPolicy } from "./rules-thread-policy.js";

const ctx: PolicyContext = { sandbox: "workspace-write", approvalPolicy: "untrusted", cwd: "/w", writableRoots: ["/w"] };
const cmd = (line: string): ProposedAction => ({ kind: "command", commandLine: line, argv: ["bash", "-lc", line], cwd: "/w", escalated: false });

describe("RulesThreadPolicy", () => {
  let home: string;
  beforeEach(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), "tether-policy-"));
  });
  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it("assesses with the user's rules, remembers session grants and applies an added rule at once", async () => {
    await mkdir(path.join(home, "rules"));
    await writeFile(path.join(home, "rules", "team.rules"), 'prefix_rule(pattern=["git", "push"], decision="forbidden")\n');
    const policy = await RulesThreadPolicy.load({ tetherHome: home });
    expect(policy.assess(cmd("git push"), ctx).type).toBe("forbidden");

    const build = cmd("cargo build");
    const asked = policy.assess(build, ctx);
    expect(asked).toMatchObject({ type: "needs_approval", proposedRule: { pattern: ["cargo", "build"] } });
    policy.grantForSession(build);
    expect(policy.assess(build, ctx).type).toBe("skip");
    expect(policy.assess(cmd("cargo test"), ctx).type).toBe("needs_approval");

    await policy.addRule({ pattern: ["cargo", "test"], decision: "allow" });
    expect(policy.assess(cmd("cargo test --all"), ctx)).toMatchObject({ type: "skip", unsandboxed: true });
    expect(await readFile(path.join(home, "rules", "default.rules"), "utf8")).toBe('prefix_rule(pattern=["cargo", "test"], decision="allow")\n');
    const fresh = await RulesThreadPolicy.load({ tetherHome: home });
    expect(fresh.assess(cmd("cargo test"), ctx).type).toBe("skip");
  });

  it("accepting a network rule appends network_rule to default.rules; the proxy's allow list has it at once", async () => {
    const policy = await RulesThreadPolicy.load({ tetherHome: home });
    const net: ProposedAction = { kind: "network", host: "127.0.0.5", port: 8080 };
    expect(policy.assess(net, ctx).type).toBe("needs_approval");
    expect(policy.proxyHostLists()).toEqual({ allowHosts: [], denyHosts: [] });
    await policy.addNetworkRule({ host: "127.0.0.5", decision: "allow", protocol: "https" });
    expect(await readFile(path.join(home, "rules", "default.rules"), "utf8")).toBe('network_rule(host="127.0.0.5", protocol="https", decision="allow")\n');
    expect(policy.assess(net, ctx)).toMatchObject({ type: "skip", reason: "allowed by a network rule" });
    expect(policy.proxyHostLists()).toEqual({ allowHosts: ["127.0.0.5"], denyHosts: [] });
  });

  it("fails to load with the broken file's name, line and column", async () => {
    await mkdir(path.join(home, "rules"));
    await writeFile(path.join(home, "rules", "x.rules"), "prefix_rule(pattern=[1])\n");
    await expect(RulesThreadPolicy.load({ tetherHome: home })).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
      message: expect.stringContaining("x.rules:1:22: unexpected character"),
    });
  });

  it("keeps an added rule in memory and warns when the rule files no longer load", async () => {
    const warnings: string[] = [];
    const policy = await RulesThreadPolicy.load({ tetherHome: home, warn: (m) => warnings.push(m) });
    await mkdir(path.join(home, "rules"), { recursive: true });
    await writeFile(path.join(home, "rules", "broken.rules"), "nonsense(\n");
    await policy.addRule({ pattern: ["make"], decision: "allow" });
    expect(policy.assess(cmd("make all"), ctx).type).toBe("skip");
    expect(warnings).toEqual([expect.stringMatching(/saved but the rule files could not be reloaded .*broken\.rules/)]);
  });
});
