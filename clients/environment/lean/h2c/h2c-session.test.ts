// H2cSession against a real node:http2 (nghttp2) server: headers both ways through HPACK's
// dynamic table and Huffman code, trailers, and large bodies both ways under flow control.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as http2 from "node:http2";
import * as net from "node:net";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { H2cSession } from "./h2c-session.js";
import type { H2cStream, ResponseHeaders } from "./h2c-stream.js";

const MIB = 1024 * 1024;

function sha(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A deterministic body of `n` bytes. */
function body(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 9)) & 0xff;
  return b;
}

async function readAll(stream: H2cStream): Promise<{ data: Buffer; response?: ResponseHeaders; trailers?: ResponseHeaders }> {
  let response: ResponseHeaders | undefined;
  let trailers: ResponseHeaders | undefined;
  stream.once("response", (h: ResponseHeaders) => (response = h));
  stream.once("trailers", (h: ResponseHeaders) => (trailers = h));
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return { data: Buffer.concat(chunks), response, trailers };
}

describe("H2cSession against node:http2", () => {
  let dir: string;
  let server: http2.Http2Server;
  let socketPath: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "h2c-"));
    socketPath = join(dir, "h2.sock");
    server = http2.createServer();
    server.on("stream", (stream, headers) => {
      const path = String(headers[":path"]);
      if (path.startsWith("/echo-headers")) {
        stream.respond({ ":status": 200, "x-seen": String(headers["x-value"]), "x-path": path }, { waitForTrailers: true });
        stream.on("wantTrailers", () => stream.sendTrailers({ "x-trailer": `done ${path} ✓`.replace("✓", "ok") }));
        stream.end("ok");
        stream.resume();
      } else if (path === "/download") {
        stream.respond({ ":status": 200 });
        stream.end(body(8 * MIB));
        stream.resume();
      } else if (path === "/upload") {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => {
          stream.respond({ ":status": 200 });
          stream.end(sha(Buffer.concat(chunks)));
        });
      } else {
        stream.respond({ ":status": 404 });
        stream.end();
      }
    });
    server.listen(socketPath);
    await once(server, "listening");
  });

  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  function connect(windowBytes?: number): H2cSession {
    const session = new H2cSession(net.connect(socketPath), { windowBytes });
    session.on("error", () => undefined);
    return session;
  }

  it("sends and reads headers and trailers over many requests (dynamic table, Huffman)", async () => {
    const session = connect();
    try {
      for (let i = 0; i < 60; i++) {
        const value = `value-${i % 7}-${"abcXYZ019 %/".repeat(i % 5)}`;
        const stream = session.request({ ":path": `/echo-headers/${i % 3}`, ":authority": "localhost", "x-value": value });
        stream.end();
        const r = await readAll(stream);
        expect(r.response?.[":status"]).toBe("200");
        expect(r.response?.["x-seen"]).toBe(value);
        expect(r.trailers?.["x-trailer"]).toBe(`done /echo-headers/${i % 3} ok`);
        expect(r.data.toString()).toBe("ok");
      }
    } finally {
      session.close();
      await once(session, "close");
    }
  });

  it("downloads 8 MiB through the default 64 KiB windows, crediting them as it reads", async () => {
    const session = connect();
    try {
      const stream = session.request({ ":path": "/download", ":authority": "localhost" });
      stream.end();
      const r = await readAll(stream);
      expect(sha(r.data)).toBe(sha(body(8 * MIB)));
    } finally {
      session.close();
      await once(session, "close");
    }
  });

  it("uploads 8 MiB, each write waiting for the server's window", async () => {
    const session = connect(4 * MIB);
    try {
      const stream = session.request({ ":path": "/upload", ":authority": "localhost" });
      const data = body(8 * MIB);
      const reading = readAll(stream);
      for (let at = 0; at < data.length; at += 1 * MIB) {
        if (!stream.write(data.subarray(at, at + MIB))) await once(stream, "drain");
      }
      stream.end();
      expect((await reading).data.toString()).toBe(sha(data));
    } finally {
      session.close();
      await once(session, "close");
    }
  });

  it("answers the server's PING and gets its own acknowledged", async () => {
    const session = connect();
    try {
      await once(session, "connect");
      const acked = new Promise<Error | null>((resolve) => session.ping(resolve));
      expect(await acked).toBeNull();
    } finally {
      session.close();
      await once(session, "close");
    }
  });
});
