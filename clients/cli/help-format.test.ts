// `--help` as a user reads it: defaults that mean something, none that are noise, examples.
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { buildProgram } from "./program.js";

function helpOf(...names: string[]): string {
  let cmd: Command = buildProgram();
  for (const name of names) {
    const next = cmd.commands.find((c) => c.name() === name);
    if (!next) throw new Error(`no command ${names.join(" ")}`);
    cmd = next;
  }
  // Whitespace folded: commander wraps long descriptions at the terminal's width.
  return cmd.helpInformation({ error: false }).replace(/\s+/g, " ");
}

describe("tether --help", () => {
  it.each([[[]], [["exec"]], [["exec", "resume"]], [["exec-server"]], [["agent-server"]], [["run"]], [["features", "list"]], [["execpolicy", "check"]]])(
    "%j: no empty-list default on repeatable flags, numbers unquoted",
    (names: string[]) => {
      const help = helpOf(...names);
      expect(help).not.toContain("(default: [])");
      expect(help).not.toMatch(/default: "\d+"/);
    },
  );

  it("says where the servers listen when --listen is not given, and what the numeric defaults are", () => {
    expect(helpOf("exec-server")).toMatch(/default: unix:\/\/\S+\/tether-\d+\.sock/);
    expect(helpOf("exec-server")).toContain("(default: 300000)");
    expect(helpOf("agent-server")).toMatch(/default: unix:\/\/\S+\/tether-agent-\d+\.sock/);
  });

  it("agent-server takes the config flags every agent command takes (-p, -c, --enable, --disable)", () => {
    const help = helpOf("agent-server");
    for (const flag of ["-p, --profile <name>", "-c, --config <key=value>", "--enable <feature>", "--disable <feature>"]) expect(help).toContain(flag);
  });

  it("shows examples for the top level and for exec", () => {
    const program = buildProgram();
    const out: string[] = [];
    program.configureOutput({ writeOut: (s) => out.push(s) });
    program.outputHelp();
    expect(out.join("")).toMatch(/Examples:\n {2}tether {2,}the interactive session/);
    const exec = program.commands.find((c) => c.name() === "exec")!;
    const execOut: string[] = [];
    exec.configureOutput({ writeOut: (s) => execOut.push(s) });
    exec.outputHelp();
    expect(execOut.join("")).toContain('git diff | tether exec --json "review this diff"');
  });
});
