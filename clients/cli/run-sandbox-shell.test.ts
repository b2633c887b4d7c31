// `tether run --sandbox …` and `--shell zsh-fork --decide …` as a user runs them: the real
// CLI against a real exec server process, and the commands' effects checked on disk.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZshForkBroker } from "../../services/exec-server/escalation/zsh-fork.js";
import { launcherPath } from "../../services/exec-server/process/launcher-path.js";
import { detectSandboxSupport } from "../../services/exec-server/sandbox/sandbox-capabilities.js";
import { skipOutsideCi } from "../../test/support/ci-must-run.js";
import { type ExecServerProcess, TETHER_BIN, VISIBLE_RUN_DIR, startExecServerProcess } from "../../test/support/exec-server-process.js";

const bwrap = (await detectSandboxSupport()).bwrap;
const noSandbox = skipOutsideCi(bwrap.ok ? undefined : bwrap.reason, "tether run --sandbox");
const zsh = await ZshForkBroker.available(path.dirname(launcherPath()));
const noZshFork = skipOutsideCi(zsh.ok ? undefined : zsh.reason, "tether run --shell zsh-fork");

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function tether(args: string[]): Promise<Ran> {
  const child = spawn(process.execPath, [TETHER_BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
  child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

let server: ExecServerProcess;
let ws: string;

beforeAll(async () => {
  server = await startExecServerProcess();
  // Not under /tmp: a sandbox replaces the host's /tmp with a private one.
  await mkdir(VISIBLE_RUN_DIR, { recursive: true });
  ws = await realpath(await mkdtemp(path.join(VISIBLE_RUN_DIR, "run-sandbox-")));
  await mkdir(path.join(ws, "secret"));
  await writeFile(path.join(ws, "secret", "key"), "TOP-SECRET\n");
});
afterAll(async () => {
  await server?.close();
  if (ws) await rm(ws, { recursive: true, force: true });
});

describe.skipIf(noSandbox)("tether run --sandbox", () => {
  it("read-only: the command runs and reads, and its writes fail", async () => {
    const r = await tether(["run", "--env", server.url, "--sandbox", "read-only", "--", "sh", "-c", `cat ${ws}/secret/key; echo x > ${ws}/w.txt`]);
    expect(r.stdout).toBe("TOP-SECRET\n");
    expect(r.stderr).toMatch(/Read-only file system/);
    expect(r.code).not.toBe(0);
    expect(existsSync(`${ws}/w.txt`)).toBe(false);
  });

  it("workspace-write with --writable-root and --deny: writes land in the root, the denied path is hidden", async () => {
    const r = await tether([
      "run", "--env", server.url, "--sandbox", "workspace-write", "--writable-root", ws, "--deny", `${ws}/secret`,
      "--", "sh", "-c", `echo made > ${ws}/made.txt; cat ${ws}/secret/key`,
    ]);
    expect(await readFile(`${ws}/made.txt`, "utf8")).toBe("made\n");
    expect(r.stdout).not.toContain("TOP-SECRET");
    expect(r.code).not.toBe(0);
  });

  it("--network off: the command cannot reach a host TCP port that the host itself can", async () => {
    let connections = 0;
    const listener = net.createServer((c) => {
      connections++;
      c.end();
    });
    const port = await new Promise<number>((resolve) => listener.listen(0, "127.0.0.1", () => resolve((listener.address() as net.AddressInfo).port)));
    try {
      const probe = `require("net").connect(${port}, "127.0.0.1").on("connect", () => process.exit(0)).on("error", (e) => { console.error(e.code); process.exit(3); })`;
      const open = await tether(["run", "--env", server.url, "--sandbox", "read-only", "--network", "on", "--", process.execPath, "-e", probe]);
      expect(open.code).toBe(0); // the control: the same probe connects with the network on
      const off = await tether(["run", "--env", server.url, "--sandbox", "read-only", "--network", "off", "--", process.execPath, "-e", probe]);
      expect(off.code).toBe(3);
      expect(off.stderr).toMatch(/ECONNREFUSED|ENETUNREACH/);
      expect(connections).toBe(1);
    } finally {
      await new Promise((resolve) => listener.close(resolve));
    }
  });
});

describe.skipIf(noZshFork)("tether run --shell zsh-fork --decide", () => {
  it.each([
    ["run", 0],
    ["escalate", 0],
  ] as const)("%s: every exec of the command line is allowed and runs", async (decide, code) => {
    const marker = `${ws}/zsh-${decide}.txt`;
    const r = await tether(["run", "--env", server.url, "--shell", "zsh-fork", "--decide", decide, "--", `echo ${decide} > ${marker} && cat ${marker}`]);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code, stdout: `${decide}\n` });
    expect(existsSync(marker)).toBe(true);
  });

  it("deny: the shell's exec is refused, named on stderr, and nothing runs", async () => {
    const marker = `${ws}/zsh-deny.txt`;
    const r = await tether(["run", "--env", server.url, "--shell", "zsh-fork", "--decide", "deny", "--", `touch ${marker}`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/tether: command denied/);
    expect(existsSync(marker)).toBe(false);
  });
});
