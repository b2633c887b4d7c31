import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NetworkProxy, PROXY_REASON_HEADER } from "./network-proxy.js";

/** Sends raw bytes to the proxy socket and returns everything it answers until close. */
function exchange(socketPath: string, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(socketPath);
    let out = "";
    c.on("data", (d) => (out += d.toString()));
    c.on("error", reject);
    c.on("close", () => resolve(out));
    c.write(request);
  });
}

describe("NetworkProxy", () => {
  let dir: string;
  let upstream: http.Server;
  let echo: net.Server;
  let upstreamPort: number;
  let echoPort: number;
  let proxy: NetworkProxy | undefined;

  const listen = (s: net.Server) =>
    new Promise<number>((resolve) => s.listen(0, "127.0.0.1", () => resolve((s.address() as net.AddressInfo).port)));

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "tether-proxy-"));
    upstream = http.createServer((req, res) => res.end(`got ${req.method} ${req.url} host=${req.headers.host}`));
    upstreamPort = await listen(upstream);
    echo = net.createServer((c) => c.pipe(c));
    echoPort = await listen(echo);
  });

  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
    await new Promise((r) => upstream.close(r));
    await new Promise((r) => echo.close(r));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const start = async (allowHosts: string[], denyHosts: string[]) => {
    // Every name resolves to loopback, so the tests need no DNS.
    proxy = await NetworkProxy.start({ socketPath: path.join(dir, "p.sock"), allowHosts, denyHosts, lookup: async () => "127.0.0.1" });
    return proxy.socketPath;
  };

  it("forwards absolute-URI http requests to an allowed host", async () => {
    const sock = await start(["api.test"], []);
    const out = await exchange(sock, `GET http://api.test:${upstreamPort}/x?y=1 HTTP/1.1\r\nHost: api.test:${upstreamPort}\r\nConnection: close\r\n\r\n`);
    expect(out).toMatch(/^HTTP\/1\.1 200/);
    expect(out).toContain(`got GET /x?y=1 host=api.test:${upstreamPort}`);
  });

  it("tunnels CONNECT to an allowed host", async () => {
    const sock = await start(["a.example.test"], []);
    const c = net.connect(sock);
    c.write(`CONNECT a.example.test:${echoPort} HTTP/1.1\r\nHost: a.example.test:${echoPort}\r\n\r\n`);
    let got = "";
    // An early close rejects the wait, so the test fails by name (an expect.fail thrown in
    // the event callback would be an uncaught error outside the test).
    await new Promise<void>((resolve, reject) => {
      c.on("close", () => reject(new Error(`tunnel closed early: ${JSON.stringify(got)}`)));
      c.on("data", (d) => {
        got += d.toString();
        if (got.includes("\r\n\r\n") && !got.includes("ping")) c.write("ping");
        if (got.endsWith("ping")) resolve();
      });
    });
    expect(got).toMatch(/^HTTP\/1\.1 200/);
    c.removeAllListeners("close");
    c.destroy();
  });

  it("refuses with 403 and the reason header, for CONNECT and plain http", async () => {
    const sock = await start(["*.example.test"], ["bad.example.test"]);
    const denied = await exchange(sock, `CONNECT bad.example.test:443 HTTP/1.1\r\nHost: bad.example.test:443\r\n\r\n`);
    expect(denied).toMatch(/^HTTP\/1\.1 403/);
    expect(denied).toContain(`${PROXY_REASON_HEADER}: denied by rule bad.example.test`);
    const notAllowed = await exchange(sock, `GET http://other.test/ HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n`);
    expect(notAllowed).toMatch(/^HTTP\/1\.1 403/);
    expect(notAllowed).toContain(`${PROXY_REASON_HEADER}: host other.test is not in the allow list`);
  });

  it("refuses local addresses reached through a name that is only allowed by pattern", async () => {
    const sock = await start([], []);
    const out = await exchange(sock, `CONNECT rebind.test:${echoPort} HTTP/1.1\r\nHost: rebind.test\r\n\r\n`);
    expect(out).toContain("resolves to local address 127.0.0.1");
  });

  it("answers 502 with a reason when the upstream is unreachable", async () => {
    const sock = await start(["api.test"], []);
    const closed = net.createServer();
    const port = await listen(closed);
    await new Promise((r) => closed.close(r));
    const out = await exchange(sock, `CONNECT api.test:${port} HTTP/1.1\r\nHost: api.test\r\n\r\n`);
    expect(out).toMatch(/^HTTP\/1\.1 502/);
    expect(out).toContain(`${PROXY_REASON_HEADER}: upstream api.test:${port} failed: ECONNREFUSED`);
  });

  it("closes open tunnels and removes its socket on close", async () => {
    const sock = await start(["api.test"], []);
    const c = net.connect(sock);
    const closed = new Promise<void>((resolve) => c.on("close", () => resolve()));
    c.write(`CONNECT api.test:${echoPort} HTTP/1.1\r\nHost: api.test\r\n\r\n`);
    await new Promise<void>((resolve) => c.once("data", () => resolve()));
    await proxy?.close();
    await closed;
    expect(fs.existsSync(sock)).toBe(false);
  });
});
