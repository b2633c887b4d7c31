import { describe, expect, it } from "vitest";
import { CommanderError } from "commander";
import { buildProgram } from "../program.js";
import { parseExecArgv } from "./exec-argv.js";
import type { ExecFlags, ResumeTarget } from "./exec-command.js";

type Read = { prompt: string | undefined; flags: ExecFlags; resume?: ResumeTarget };

/** What commander hands exec's action for the same words (the reference). */
function viaCommander(args: string[]): Read | "error" {
  let got: Read | "error" = "error";
  const program = buildProgram({ exec: async (prompt, flags, resume) => void (got = resume ? { prompt, flags, resume } : { prompt, flags }) });
  const quiet = (cmd: typeof program) => {
    cmd.exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
    for (const sub of cmd.commands) quiet(sub);
  };
  quiet(program);
  try {
    program.parse(["node", "tether", ...args]);
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
  }
  return got;
}

describe("parseExecArgv", () => {
  it.each([
    [["exec", "say hi"]],
    [["e", "say hi"]],
    [["e", "--json", "resume", "--last", "x"]],
    [["exec"]],
    [["exec", "-"]],
    [["exec", ""]],
    [["exec", "--json", "say hi"]],
    [["exec", "say hi", "--json", "-m", "gpt-x"]],
    [["exec", "-C", "/tmp", "--sandbox", "workspace-write", "say hi"]],
    [["exec", "--cwd=/tmp", "--cd", "/w", "-s", "read-only", "--model=m", "--model", "n", "x"]],
    [["exec", "--env", "unix:///s.sock", "--token-file", "/t", "--ca-file", "/ca", "x"]],
    [["exec", "--env=docker:img", "--add-dir", "/a", "--add-dir=/b", "x"]],
    [["exec", "-c", "model=\"m\"", "--config", "a.b=1", "-p", "fast", "--profile=slow", "x"]],
    [["exec", "--enable", "f1", "--enable=f2", "--disable", "f3", "x"]],
    [["exec", "-o", "/tmp/out", "--output-schema", "/s.json", "--output-last-message=/tmp/o2", "x"]],
    [["exec", "--dangerously-bypass-approvals-and-sandbox", "--skip-git-repo-check", "x"]],
    [["exec", "--model=", "x"]],
    [["exec", "--", "--json"]],
    [["exec", "--json", "--", "-"]],
    [["exec", "resume", "--last", "x"]],
    [["exec", "resume", "--last"]],
    [["exec", "resume", "--last", "--all", "x"]],
    [["exec", "resume", "--all", "--last", "-"]],
    [["exec", "--json", "resume", "--last", "x"]],
    [["exec", "resume", "--json", "--last", "x"]],
    [["exec", "resume", "thread_1", "x"]],
    [["exec", "resume", "thread_1"]],
    [["exec", "resume", "x", "--last"]],
    [["exec", "-m", "a", "-c", "a=1", "resume", "-m", "b", "-c", "b=2", "--last", "-o", "/tmp/o", "x"]],
    [["exec", "--add-dir", "/a", "resume", "thread_1", "--add-dir=/b", "-C", "/w", "x"]],
    [["exec", "resume", "--last", "--skip-git-repo-check", "--sandbox", "read-only", "x"]],
  ])("reads %j as commander does", (args) => {
    const reference = viaCommander(args);
    expect(reference).not.toBe("error");
    const parsed = parseExecArgv(args);
    expect(parsed).toBeDefined();
    expect(parsed).toEqual(reference);
  });

  it.each([
    [["exec", "--help"]],
    [["exec", "-h", "x"]],
    [["exec", "x", "--help"]],
    [["exec", "resume"]],
    [["exec", "resume", "--last", "a", "b"]],
    [["exec", "resume", "t", "a", "b"]],
    [["exec", "resume", "--all", "t", "x"]],
    [["exec", "resume", "--last", "--ephemeral", "x"]],
    [["exec", "resume", "--last", "--help"]],
    [["exec", "resume", "--", "t", "x"]],
    [["exec", "--last", "resume", "x"]],
    [["exec", "x", "resume"]],
    [["exec", "help"]],
    [["exec", "a", "b"]],
    [["exec", "--agent", "unix:///a.sock", "x"]],
    [["exec", "--agent-token-file", "/t", "x"]],
    [["exec", "--agent-ca-file", "/c", "x"]],
    [["exec", "--bogus", "x"]],
    [["exec", "-mgpt", "x"]],
    [["exec", "-m=gpt", "x"]],
    [["exec", "--json=1", "x"]],
    [["exec", "-m"]],
    [["exec", "-m", "--json", "x"]],
    [["exec", "-o", "-", "x"]],
    [["exec", "-x"]],
    [["run", "--env", "local", "--", "true"]],
    [["--json", "exec", "x"]],
    [[]],
  ])("leaves %j to commander", (args) => {
    expect(parseExecArgv(args)).toBeUndefined();
  });
});
