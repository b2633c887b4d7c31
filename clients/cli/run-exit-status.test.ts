// `tether run` exits as a shell (and ssh, docker) does when the program cannot be run: 127
// when it is not found, 126 when it is not executable; the line on stderr says which. On the
// in-process server and through the lean client on a Unix socket (the detail crosses the wire).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExecServerProcess, startExecServerProcess } from "../../test/support/exec-server-process.js";
import { runTether } from "../../test/support/tether-cli.js";

let server: ExecServerProcess | undefined;

beforeAll(async () => {
  server = await startExecServerProcess();
});
afterAll(async () => {
  await server?.close();
});

describe("tether run: a program that cannot be run", () => {
  it.each(["local", "unix"])("--env %s: 127 not found, 126 not executable", async (kind) => {
    const env = kind === "local" ? "local" : server!.url;
    const missing = await runTether(["run", "--env", env, "--", "tether-qa-no-such-program"]);
    expect(missing.stderr).toMatch(/executable "tether-qa-no-such-program" not found in PATH=/);
    expect(missing.code).toBe(127);
    const notExecutable = await runTether(["run", "--env", env, "--", "/etc/passwd"]);
    expect(notExecutable.stderr).toMatch(/\/etc\/passwd is not an executable file/);
    expect(notExecutable.code).toBe(126);
  });
});
