import { describe, expect, it } from "vitest";
import { CommanderError } from "commander";
import { buildProgram } from "./program.js";
import { parseRunArgv } from "./run-argv.js";
import type { RunFlags } from "./run-command.js";

/** What commander hands run's action for the same words (the reference). */
function viaCommander(args: string[]): { command: string[]; flags: RunFlags } | "error" {
  let got: { command: string[]; flags: RunFlags } | "error" = "error";
  const program = buildProgram({ run: async (command, flags) => void (got = { command, flags }) });
  program.exitOverride();
  program.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  for (const cmd of program.commands) cmd.exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  try {
    program.parse(["node", "tether", ...args]);
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
  }
  return got;
}

describe("parseRunArgv", () => {
  it.each([
    [["run", "--env", "unix:///s.sock", "--", "true"]],
    [["run", "--env=grpc://127.0.0.1:5", "true", "-t", "--env", "x"]],
    [["run", "-t", "-v", "--env", "local", "--cwd", "/tmp", "--env-var", "A=1", "--env-var=B=2", "--timeout", "300", "--", "sh", "-c", "exit 3"]],
    [["run", "--env", "grpcs://h:1", "--token-file", "/t", "--ca-file", "/ca", "--tty", "--verbose", "cat", "--", "-x"]],
    [["run", "--env", "local", "--sandbox", "workspace-write", "--writable-root", "/a", "--writable-root", "/b", "--deny", "/c", "--network", "off", "--", "ls"]],
    [["run", "--env", "local", "--shell", "zsh-fork", "--decide", "run", "--", "echo hi"]],
    [["run", "--env", "local", "--", "--", "x"]],
  ])("reads %j as commander does", (args) => {
    const reference = viaCommander(args);
    expect(reference).not.toBe("error");
    const parsed = parseRunArgv(args);
    expect(parsed).toBeDefined();
    // commander leaves unset flags out; compare what is set.
    expect(parsed!.command).toEqual((reference as { command: string[] }).command);
    expect(parsed!.flags).toEqual({ ...(reference as { flags: RunFlags }).flags });
  });

  it.each([
    [["run", "--help"]],
    [["run", "-h", "--env", "local", "--", "true"]],
    [["run", "--env", "local"]],
    [["run", "--", "true"]],
    [["run", "--env", "local", "--bogus", "--", "true"]],
    [["run", "-tv", "--env", "local", "--", "true"]],
    [["run", "--env"]],
    [["run", "--env", "--cwd", "x", "--", "true"]],
    [["exec-server"]],
    [["--version"]],
  ])("leaves %j to commander", (args) => {
    expect(parseRunArgv(args)).toBeUndefined();
  });
});
