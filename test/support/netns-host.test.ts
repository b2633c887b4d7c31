import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { createNetnsHost, netnsAvailable, type NetnsHost } from "./netns-host.js";

const available = netnsAvailable();
if (!available.ok && process.env.CI === "true") throw new Error(`CI=true but ${available.reason}`);
if (!available.ok) console.warn(`skipping netns tests: ${available.reason}`);

const ECHO_PORT = 7000;
// Echoes every byte back; prints "ready" once listening so the test waits on that, not a timer.
const ECHO_SERVER = `
  const net = require("node:net");
  const [host, port] = process.argv.slice(1);
  net.createServer((s) => s.pipe(s)).listen(Number(port), host, () => console.log("ready"));
`;

async function startEcho(host: NetnsHost): Promise<ChildProcess> {
  const child = host.exec([process.execPath, "-e", ECHO_SERVER, host.address, String(ECHO_PORT)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [chunk] = (await once(child.stdout!, "data")) as [Buffer];
  expect(chunk.toString()).toContain("ready");
  return child;
}

/** Sends "ping" and resolves with what comes back; rejects on error or after timeoutMs. */
function roundTrip(address: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: address, port: ECHO_PORT });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer from ${address} in ${timeoutMs} ms`)));
    socket.once("error", reject);
    socket.once("connect", () => socket.write("ping"));
    socket.once("data", (d) => {
      resolve(d.toString());
      socket.destroy();
    });
  });
}

function namespaces(): string[] {
  return execFileSync("ip", ["netns", "list"], { encoding: "utf8" }).split("\n").map((l) => l.split(" ")[0] ?? "");
}

describe.skipIf(!available.ok)("createNetnsHost", () => {
  it("gives a namespace whose TCP server the main namespace reaches through its address", async () => {
    await using host = await createNetnsHost();
    expect(host.address).toMatch(/^10\.213\.\d+\.\d+$/);
    expect(host.hostAddress).toMatch(/^10\.213\.\d+\.\d+$/);
    const echo = await startEcho(host);
    await expect(roundTrip(host.address, 5_000)).resolves.toBe("ping");
    echo.kill();
  });

  it("makes connections fail while the link is down and work again after linkUp", async () => {
    await using host = await createNetnsHost();
    await startEcho(host);
    await expect(roundTrip(host.address, 5_000)).resolves.toBe("ping");

    await host.linkDown();
    await expect(roundTrip(host.address, 1_000)).rejects.toThrow();

    await host.linkUp();
    await expect(roundTrip(host.address, 5_000)).resolves.toBe("ping");
  });

  it("stalls an established connection while the link is down, without a reset, and resumes it after", async () => {
    await using host = await createNetnsHost();
    await startEcho(host);
    const socket = connect({ host: host.address, port: ECHO_PORT });
    await once(socket, "connect");
    const received: string[] = [];
    let errored: Error | undefined;
    socket.on("error", (err) => (errored = err));
    const next = (): Promise<string> => once(socket, "data").then(([d]) => String(d));

    socket.write("a");
    received.push(await next());
    await host.linkDown();
    socket.write("b");
    // Absence can only be shown by waiting: nothing may arrive in this bounded window.
    const during = await Promise.race([next(), new Promise<string>((r) => setTimeout(() => r("<nothing>"), 500))]);
    received.push(during);
    const resumed = next();
    await host.linkUp();
    received.push(await resumed);
    socket.destroy();
    expect(received).toEqual(["a", "<nothing>", "b"]);
    expect(errored).toBeUndefined();
  });

  it("lets the namespace reach the main namespace through hostAddress", async () => {
    await using host = await createNetnsHost();
    const { createServer } = await import("node:net");
    const server = createServer((s) => s.end("from-host"));
    server.listen(0, host.hostAddress);
    await once(server, "listening");
    const port = (server.address() as { port: number }).port;
    const client = host.exec([process.execPath, "-e",
      `require("node:net").connect(${port}, "${host.hostAddress}").on("data", (d) => process.stdout.write(d))`],
      { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    client.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    const [code] = await once(client, "exit");
    server.close();
    expect(code).toBe(0);
    expect(out).toBe("from-host");
  });

  it("gives concurrent hosts distinct addresses and names", async () => {
    await using a = await createNetnsHost();
    await using b = await createNetnsHost();
    expect(a.name).not.toBe(b.name);
    expect(new Set([a.address, a.hostAddress, b.address, b.hostAddress]).size).toBe(4);
  });

  it("kills what runs inside and deletes the namespace on close, idempotently", async () => {
    const host = await createNetnsHost();
    const echo = await startEcho(host);
    const exited = once(echo, "exit");
    await host.close();
    const [, signal] = await exited;
    expect(signal).toBe("SIGKILL");
    expect(namespaces()).not.toContain(host.name);
    await expect(host.close()).resolves.toBeUndefined();
  });

  it("removes namespaces left by a crashed test process", async () => {
    // A pid that certainly exited: a child we waited for.
    const child = spawn("true");
    await once(child, "exit");
    const stale = `tether-test-${child.pid}-0`;
    execFileSync("ip", ["netns", "add", stale]);
    // A veth pair whose peer never moved into a namespace: a crash mid-create.
    const staleLink = `tth${child.pid!.toString(36)}-0`;
    execFileSync("ip", ["link", "add", staleLink, "type", "veth", "peer", "name", `ttn${child.pid!.toString(36)}-0`]);
    await using host = await createNetnsHost();
    expect(namespaces()).not.toContain(stale);
    expect(execFileSync("ip", ["-o", "link", "show", "type", "veth"], { encoding: "utf8" })).not.toContain(staleLink);
    expect(namespaces()).toContain(host.name);
  });
});
