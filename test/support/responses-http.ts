// HTTP plumbing of the scripted Responses server: bodies in (capped, decoded), JSON and SSE out.
import type http from "node:http";
import zlib from "node:zlib";

export function apiError(message: string, type: string, code: string | null = null): { error: Record<string, unknown> } {
  return { error: { message, type, param: null, code } };
}

export function startStream(res: http.ServerResponse): void {
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-request-id": "req_scripted" });
  res.flushHeaders();
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function abortedPromise(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

export function waitDrain(res: http.ServerResponse, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off("drain", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    res.once("drain", done);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Reads the whole body (capped), undoing a content-encoding the client applied. */
export async function readBody(req: http.IncomingMessage, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw new Error(`request body over ${max} bytes`);
    chunks.push(chunk);
  }
  const data = Buffer.concat(chunks);
  switch (req.headers["content-encoding"]) {
    case "gzip":
      return zlib.gunzipSync(data, { maxOutputLength: max }).toString("utf8");
    case "deflate":
      return zlib.inflateSync(data, { maxOutputLength: max }).toString("utf8");
    case "br":
      return zlib.brotliDecompressSync(data, { maxOutputLength: max }).toString("utf8");
    case "zstd":
      return zlib.zstdDecompressSync(data, { maxOutputLength: max }).toString("utf8");
    default:
      return data.toString("utf8");
  }
}
