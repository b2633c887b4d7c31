import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import { ModelConnectionError, ModelHttpError, StreamFailed } from "./model-failure.js";
import { postResponsesStream } from "./responses-http.js";

// Byte-level SSE cases the scripted Responses server does not produce: a real HTTP server on loopback.
let server: http.Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

async function serve(handler: http.RequestListener): Promise<string> {
  server = http.createServer(handler);
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/responses`;
}

async function collect(url: string, maxEventBytes?: number) {
  const events: unknown[] = [];
  try {
    for await (const e of postResponsesStream({ url, apiKey: "sk", body: JSON.stringify({ model: "m" }), signal: AbortSignal.timeout(10_000), maxEventBytes })) events.push(e);
    return { events, error: undefined };
  } catch (error) {
    return { events, error };
  }
}

describe("postResponsesStream", () => {
  it("parses events split across chunks, CRLF lines, comments and multi-line data, and ignores what follows [DONE]", async () => {
    const url = await serve((req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(': keep-alive\r\nevent: response.created\r\ndata: {"type":"response.cr');
      res.write('eated","n":1}\r\n\r\ndata: {"type":"x",\ndata: "n":2}\n\n');
      res.end('data: [DONE]\n\ndata: {"type":"after"}\n\n');
    });
    const { events, error } = await collect(url);
    expect(error).toBeUndefined();
    expect(events).toEqual([{ type: "response.created", n: 1 }, { type: "x", n: 2 }]);
  });

  it("sends the key, JSON body and SSE accept header", async () => {
    let seen: http.IncomingHttpHeaders = {};
    let body = "";
    const url = await serve((req, res) => {
      seen = req.headers;
      req.setEncoding("utf8").on("data", (s: string) => (body += s));
      req.on("end", () => res.writeHead(200).end());
    });
    await collect(url);
    expect(seen).toMatchObject({ authorization: "Bearer sk", "content-type": "application/json", accept: "text/event-stream" });
    expect(JSON.parse(body)).toEqual({ model: "m" });
  });

  it("throws an `event: error` without a type as StreamFailed with its code", async () => {
    const url = await serve((req, res) => res.writeHead(200).end('event: error\ndata: {"error":{"code":"server_error","message":"boom"}}\n\n'));
    const { error } = await collect(url);
    expect(error).toBeInstanceOf(StreamFailed);
    expect(error).toMatchObject({ code: "server_error", message: "boom" });
  });

  it("throws a SyntaxError for data that is not a JSON object", async () => {
    const url = await serve((req, res) => res.writeHead(200).end("data: [1,2]\n\n"));
    expect((await collect(url)).error).toBeInstanceOf(SyntaxError);
  });

  it("gives a non-2xx answer's status, headers, error object and code", async () => {
    const url = await serve((req, res) => res.writeHead(429, { "retry-after": "7" }).end(JSON.stringify({ error: { code: "rate_limit_exceeded", message: "slow down" } })));
    const { error } = await collect(url);
    expect(error).toBeInstanceOf(ModelHttpError);
    const e = error as ModelHttpError;
    expect([e.status, e.code, e.headers.get("Retry-After"), (e.error as { message: string }).message]).toEqual([429, "rate_limit_exceeded", "7", "slow down"]);
  });

  it("fails a refused connection as ModelConnectionError", async () => {
    const url = await serve(() => undefined);
    await new Promise((r) => server!.close(r));
    server = undefined;
    expect((await collect(url)).error).toBeInstanceOf(ModelConnectionError);
  });

  it("bounds one event's size with DATA_LOSS", async () => {
    const url = await serve((req, res) => {
      res.on("error", () => undefined); // the client hangs up mid-write
      res.writeHead(200);
      // A line that never ends, in many chunks: 4 MiB against a 1 MiB bound.
      const chunk = `data: ${"x".repeat(64 * 1024)}`;
      let sent = 0;
      const more = () => {
        while (sent < 64 && res.write(chunk)) sent++;
        if (sent < 64) res.once("drain", more);
        else res.end();
      };
      more();
    });
    const { error } = await collect(url, 1024 * 1024);
    expect(error).toBeInstanceOf(TetherError);
    expect((error as TetherError).code).toBe(ErrorCode.DataLoss);
  });
});
