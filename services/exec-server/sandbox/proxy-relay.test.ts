// The in-sandbox relay as a process: here on the host's loopback (the sandbox gives it a
// network namespace of its own; conformance and e2e suites run it there).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { nativeHelperPath } from "../process/launcher-path.js";
import { relayPrefixedArgv } from "./proxy-relay.js";

const relayPath = nativeHelperPath("tether-net-relay");

/** A port the kernel just handed out (then freed) for the relay to listen on. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Sends `text`, half-closes, and collects everything until the relay closes the connection. */
function exchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.end(text));
    let got = "";
    socket.on("data", (d: Buffer) => (got += d.toString()));
    socket.on("close", () => resolve(got));
    socket.on("error", reject);
  });
}

describe("the native sandbox network relay", () => {
  let dir: string;
  let upstream: net.Server;
  let relay: ChildProcess | undefined;

  beforeEach(async () => {
    expect(relayPath, "scripts/build-native.sh builds build/native/tether-net-relay").toBeDefined();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-relay-"));
    // The proxy's stand-in: answers after the client's EOF, so half-closes must pass both ways.
    upstream = net.createServer((c) => {
      let got = "";
      c.on("data", (d: Buffer) => (got += d.toString()));
      c.on("end", () => c.end(`echo:${got}:bye`));
    });
    await new Promise<void>((resolve) => upstream.listen(path.join(dir, "proxy.sock"), resolve));
  });
  afterEach(async () => {
    relay?.kill("SIGKILL");
    await new Promise((resolve) => upstream.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("says ready once listening, closes stdout, and joins each connection to the proxy socket with half-closes passed on", async () => {
    const port = await freePort();
    relay = spawn(relayPath!, [String(port), path.join(dir, "proxy.sock")], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    relay.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    await new Promise((resolve) => relay!.stdout!.on("close", resolve));
    expect(out).toBe("ready\n");
    const answers = await Promise.all([exchange(port, "one"), exchange(port, "two"), exchange(port, "x".repeat(200_000))]);
    expect(answers.slice(0, 2)).toEqual(["echo:one:bye", "echo:two:bye"]);
    expect(answers[2]).toBe(`echo:${"x".repeat(200_000)}:bye`);
  });

  it("closes a connection when the proxy socket is gone", async () => {
    const port = await freePort();
    relay = spawn(relayPath!, [String(port), path.join(dir, "missing.sock")], { stdio: ["ignore", "pipe", "inherit"] });
    relay.stdout!.resume();
    await new Promise((resolve) => relay!.stdout!.on("close", resolve));
    // Closed with "hello" unread: the kernel resets rather than ends it. Either way nothing came back.
    expect(await exchange(port, "hello").catch((err: NodeJS.ErrnoException) => err.code)).toMatch(/^(|ECONNRESET)$/);
  });

  it("the shell prefix fails with 125 and says why when the relay cannot start, instead of running the command", () => {
    const argv = relayPrefixedArgv({ relayPath: relayPath!, nodePath: process.execPath, socketPath: path.join(dir, "proxy.sock"), port: 0, command: ["/bin/echo", "ran"] });
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
    expect(r.status).toBe(125);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("the sandbox network relay did not start");
  });
});
