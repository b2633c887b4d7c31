import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { Child, type ChildSpec } from "./child.js";
import { launcherPath } from "./launcher-path.js";
import { Zygote } from "./zygote.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
let launcher = "";
let zygotePath = "";
const zygotes: Zygote[] = [];

beforeAll(() => {
  execFileSync(join(root, "scripts", "build-native.sh"), ["tether-launch", "tether-zygote"], { stdio: "inherit" });
  launcher = launcherPath();
  zygotePath = join(dirname(launcher), "tether-zygote");
});

afterEach(async () => {
  await Promise.all(zygotes.splice(0).map((z) => z.close()));
});

function zygote(options: { now?: () => number } = {}): Zygote {
  const z = new Zygote({ path: zygotePath, restartDelayMs: 1000, ...options });
  zygotes.push(z);
  return z;
}

const sleeper: ChildSpec = { file: "/bin/sleep", argv: ["sleep", "1000"], cwd: "/", env: {}, stdinOpen: false };
const echo: ChildSpec = { file: "/bin/echo", argv: ["echo", "hi"], cwd: "/", env: {}, stdinOpen: false };

async function run(spec: ChildSpec, z: Zygote): Promise<{ child: Child; out: string; code: number | null }> {
  const child = await Child.spawn(spec, { launcherPath: launcher, zygote: z });
  let out = "";
  child.onOutput((_, d) => (out += d.toString()));
  const exit = await child.exited;
  return { child, out, code: exit.code };
}

function parentOf(pid: number): number {
  return Number(/\) \S (\d+) /.exec(readFileSync(`/proc/${pid}/stat`, "utf8"))?.[1]);
}

function killAndWait(pid: number): Promise<void> {
  process.kill(pid, "SIGKILL");
  return new Promise((resolve) => {
    const poll = (): void => {
      try {
        readFileSync(`/proc/${pid}/stat`); // our child: its entry goes once Node reaped it
        setTimeout(poll, 10);
      } catch {
        resolve();
      }
    };
    poll();
  });
}

describe("Zygote", () => {
  it("forks launchers itself: the target's grandparent is the zygote", async () => {
    const z = zygote();
    const child = await Child.spawn(sleeper, { launcherPath: launcher, zygote: z });
    expect(parentOf(parentOf(child.pid))).toBe(await z.pid());
    await child.close();
    expect((await child.exited).signal).toBe(9);
  });

  it("serves many launches at once, each with its own streams", async () => {
    const z = zygote();
    const runs = await Promise.all(Array.from({ length: 30 }, (_, i) => run({ ...echo, argv: ["echo", `n${i}`] }, z)));
    expect(runs.map((r) => r.out)).toEqual(Array.from({ length: 30 }, (_, i) => `n${i}\n`));
  });

  it("falls back to a direct spawn after the zygote was killed, and restarts it later", async () => {
    let now = 0;
    const z = zygote({ now: () => now });
    expect((await run(echo, z)).out).toBe("hi\n");
    const first = (await z.pid())!;
    await killAndWait(first);
    const direct = await run(echo, z);
    expect(direct).toMatchObject({ out: "hi\n", code: 0 });
    now += 1000; // the restart delay passed
    const child = await Child.spawn(sleeper, { launcherPath: launcher, zygote: z });
    const second = (await z.pid())!;
    expect(second).not.toBe(first);
    expect(parentOf(parentOf(child.pid))).toBe(second);
    await child.close();
  });

  it("keeps running processes when the zygote dies", async () => {
    const z = zygote();
    const child = await Child.spawn({ ...sleeper, file: "/bin/sh", argv: ["sh", "-c", "read x; echo got $x"], stdinOpen: true }, { launcherPath: launcher, zygote: z });
    let out = "";
    child.onOutput((_, d) => (out += d.toString()));
    await killAndWait((await z.pid())!);
    await child.write(Buffer.from("line\n"));
    expect((await child.exited).code).toBe(0);
    expect(out).toBe("got line\n");
  });

  it("refuses connections from any process but the exec server", async () => {
    const z = zygote();
    await run(echo, z); // starts it
    const pid = (await z.pid())!;
    const socket = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[1]!;
    // A well-formed request; a refused connection closes before any answer.
    const script = `
      const s = require("node:net").connect(${JSON.stringify(socket)});
      const f = ["pipe", "0", "", "/", "/bin/true", "1", "true", "0"].map((x) => x + "\\0").join("");
      const h = Buffer.alloc(4); h.writeUInt32LE(Buffer.byteLength(f));
      s.write(Buffer.concat([h, Buffer.from(f)]));
      let got = ""; s.on("data", (d) => (got += d)); s.on("error", () => {});
      s.on("close", () => { process.stdout.write(JSON.stringify(got)); });`;
    const answer = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 5000 });
    expect(answer.stdout).toBe('""');
    expect((await run(echo, z)).out).toBe("hi\n"); // and it still serves us
  });

  it("reports a missing working directory as NotFound without starting anything", async () => {
    const z = zygote();
    await expect(Child.spawn({ ...echo, cwd: "/nonexistent-dir" }, { launcherPath: launcher, zygote: z })).rejects.toMatchObject({
      message: expect.stringContaining("/nonexistent-dir does not exist"),
    });
  });

  it("answers undefined (spawn directly) when its binary is missing", async () => {
    const z = new Zygote({ path: join(dirname(launcher), "no-such-zygote") });
    zygotes.push(z);
    expect(await z.launch(echo)).toBeUndefined();
    expect((await run(echo, z)).out).toBe("hi\n");
  });
});
