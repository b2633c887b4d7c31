import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TetherError } from "../../services/common/tether-error.js";
import { isUsageError } from "./cli-error.js";
import { execpolicyCheck, type ExecpolicyCheckFlags } from "./execpolicy-command.js";

let dir: string;
let rules: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "tether-execpolicy-cli-"));
  rules = path.join(dir, "a.rules");
  await writeFile(rules, 'prefix_rule(pattern=["git", "push"], decision="prompt", justification="publishes")\nprefix_rule(pattern=["git", "push", "-f"], decision="forbidden")\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function check(command: string[], flags: ExecpolicyCheckFlags): Promise<unknown> {
  let text = "";
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  expect(await execpolicyCheck(command, flags, out)).toBe(0);
  expect(text.endsWith("\n")).toBe(true);
  return JSON.parse(text);
}

async function usageFailure(command: string[], flags: ExecpolicyCheckFlags): Promise<string> {
  try {
    await execpolicyCheck(command, flags, new Writable({ write: (_c, _e, done) => done() }));
  } catch (err) {
    if (err instanceof TetherError && isUsageError(err)) return err.message;
    throw err;
  }
  throw new Error("expected a usage error");
}

describe("tether execpolicy check", () => {
  it("prints the matching rules and the strictest decision in Codex's shape", async () => {
    expect(await check(["git", "push", "-f"], { rules: [rules] })).toEqual({
      matchedRules: [
        { prefixRuleMatch: { matchedPrefix: ["git", "push"], decision: "prompt", justification: "publishes" } },
        { prefixRuleMatch: { matchedPrefix: ["git", "push", "-f"], decision: "forbidden" } },
      ],
      decision: "forbidden",
    });
    expect(await check(["ls"], { rules: [rules] })).toEqual({ matchedRules: [] });
  });

  it("checks a shell line command by command, and says when it cannot be split", async () => {
    expect(await check([], { rules: [rules], line: "ls | bash -c 'git push'" })).toMatchObject({ decision: "prompt" });
    expect(await check([], { rules: [rules], line: "git push $(x)" })).toEqual({
      matchedRules: [],
      decision: "prompt",
      unparseable: true,
      reason: expect.stringMatching(/command substitution/),
    });
  });

  it("reads $TETHER_HOME/rules when no file is named (none there: nothing matches)", async () => {
    const saved = process.env.TETHER_HOME;
    process.env.TETHER_HOME = path.join(dir, "empty-home");
    try {
      expect(await check(["git", "push"], {})).toEqual({ matchedRules: [] });
    } finally {
      if (saved === undefined) delete process.env.TETHER_HOME;
      else process.env.TETHER_HOME = saved;
    }
  });

  it("makes a bad rule file, a missing file and a bad invocation usage errors (exit 2)", async () => {
    const bad = path.join(dir, "bad.rules");
    await writeFile(bad, 'prefix_rule(pattern=["a"], decision="nope")\n');
    expect(await usageFailure(["a"], { rules: [bad] })).toMatch(/bad\.rules:1:37: decision must be/);
    expect(await usageFailure(["a"], { rules: [path.join(dir, "missing.rules")] })).toMatch(/cannot read the rule file/);
    expect(await usageFailure([], { rules: [rules] })).toMatch(/name the command/);
    expect(await usageFailure(["ls"], { rules: [rules], line: "ls" })).toMatch(/not both/);
  });
});
