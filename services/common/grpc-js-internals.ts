// Every place tether relies on grpc-js (1.14) or @grpc/reflection behaving in a way their
// public API does not promise, in one module with its tripwire tests (grpc-js-internals.test.ts
// and grpc-service.test.ts's PreEncoded test): if a release changes one, a test here fails
// by name instead of a server slowing down or hanging somewhere else.
//
// 1. Receive windows: the server's http2 listeners (`http2Servers`, private) — widened here.
// 2. Serializer shape: a server response serializer may return any object with `byteLength`
//    and `copy(target, offset)` (server-interceptors.js serializeMessage uses nothing else);
//    a client request serializer one with `length` and `copy` (compression-filter.js
//    writeMessage, identity encoding; retrying-call.js reads `length` only).
// 3. Cancellation: a server call emits 'cancelled' (an event, not a typed API) and sets
//    `cancelled`; after it, grpc-js drops pending write callbacks (they never run), so a
//    writer waiting on them must also wait on the call's abort (ResponseWriter in grpc-service.ts).
//    A bidi call that emits 'error' while a write is in flight never sends its status: wait
//    for writes to settle first.
// 4. Reflection: @grpc/reflection only installs itself with addToServer(server); its handlers
//    are captured with a recording stand-in for the server and called later (reflection.ts).
// 5. waitForReady is read from Metadata options only (metadata.setOptions), never from
//    CallOptions (grpc-client.ts; test/fault/server-restart.test.ts holds it).
// 6. Direct writes: a server call's HTTP/2 stream is `stream` on the innermost of its
//    intercepting calls (`call.call`, then `nextCall`), which sets `metadataSent` once the
//    headers went out. After that grpc-js writes a message as one `stream.write`, so writing
//    the 5-byte prefix and the message's pieces there ourselves is the same on the wire.
import type * as grpc from "@grpc/grpc-js";
import type * as http2 from "node:http2";

// 1. Receive windows. grpc-js has a client option ('grpc-node.flow_control_window') but none
// for servers, which keep the 64 KiB default: a client stream (WriteFile, stdin) then moves
// one window per round trip and uploads idle both ends. If a release renames the listeners,
// the server keeps working with the default window (and the tripwire test fails).

/** What the server buffers per stream at most before the client must wait: bounded memory either way. */
const SERVER_STREAM_WINDOW_BYTES = 4 << 20;
/** Shared by all streams of a connection; larger than one stream's, so one upload cannot stall the others. */
const SERVER_CONNECTION_WINDOW_BYTES = 16 << 20;
/**
 * Largest DATA frame a client may send us (HTTP/2's default is 16 KiB). An upload in 16 KiB
 * frames costs the server a chunk, an event and a buffer per frame; socket reads are 64 KiB,
 * so frames beyond that save little more, and a 256 KiB frame holds another stream on the
 * connection back for well under a millisecond.
 */
const SERVER_MAX_FRAME_BYTES = 256 << 10;

interface Windows {
  stream: number;
  connection: number;
  /** SETTINGS_MAX_FRAME_SIZE we announce (16 KiB to 16 MiB - 1). */
  maxFrame?: number;
}

/**
 * Applies `windows` to every listener the server has bound so far and to each connection
 * they accept from now on. Call after bindAsync resolved; returns how many listeners it
 * reached (0: grpc-js internals changed, default windows stay).
 */
export function widenReceiveWindows(
  server: grpc.Server,
  windows: Windows = { stream: SERVER_STREAM_WINDOW_BYTES, connection: SERVER_CONNECTION_WINDOW_BYTES, maxFrame: SERVER_MAX_FRAME_BYTES },
): number {
  const listeners = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(listeners instanceof Map)) return 0;
  let reached = 0;
  for (const listener of listeners.keys()) {
    if (!isHttp2Server(listener)) continue;
    // Sent in each new connection's first SETTINGS frame: the per-stream window and frame size.
    listener.updateSettings(windows.maxFrame === undefined ? { initialWindowSize: windows.stream } : { initialWindowSize: windows.stream, maxFrameSize: windows.maxFrame });
    listener.on("session", (session: http2.ServerHttp2Session) => {
      try {
        // The connection-level window is not a setting: it grows by WINDOW_UPDATE only.
        session.setLocalWindowSize(windows.connection);
      } catch {
        // The session closed before we got to it: nothing to widen.
      }
    });
    reached++;
  }
  return reached;
}

function isHttp2Server(value: unknown): value is http2.Http2Server {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Partial<http2.Http2Server>).updateSettings === "function" &&
    typeof (value as Partial<http2.Http2Server>).on === "function"
  );
}

/** 2. A message "buffer" grpc-js frames by calling copy(frame, 5): bulk data is copied once, from its pieces. */
export function piecewiseResponse(byteLength: number, copyTo: (target: Uint8Array, offset: number) => void): Buffer {
  const copy = (target: Uint8Array, offset: number) => {
    copyTo(target, offset);
    return byteLength;
  };
  return { byteLength, length: byteLength, copy } as unknown as Buffer;
}

/** 6. Writes one gRPC message straight to the call's HTTP/2 stream; false: not possible now, use call.write. */
export type DirectWrite = (parts: readonly Uint8Array[], byteLength: number, done: (err?: Error | null) => void) => boolean;

/**
 * Pieces smaller than this on average are copied into one frame instead of handed over one
 * by one: bulk output's pieces are pipe reads (up to 64 KiB) and stay uncopied.
 */
const JOIN_BELOW_AVERAGE_BYTES = 4096;

interface BaseServerCall {
  stream: http2.ServerHttp2Stream;
  metadataSent?: unknown;
  cancelled?: unknown;
}

function isBaseServerCall(value: unknown): value is BaseServerCall {
  const stream = (value as { stream?: Partial<http2.ServerHttp2Stream> } | null)?.stream;
  return typeof stream?.write === "function" && typeof stream.cork === "function" && "metadataSent" in (value as object);
}

/**
 * 6. A writer that hands a message's pieces (the log's buffers, as they are) to nghttp2, which
 * sends them without copying: grpc-js's own path allocates a frame of the message's size and
 * copies into it, which at bulk rates is half of what the server allocates and most of its GC.
 * It only writes once grpc-js sent the headers; the caller must only use it while no write of
 * its own through grpc-js is pending (grpc-js's queue would otherwise be overtaken). undefined
 * when grpc-js's internals are not as expected: then every message goes through grpc-js.
 */
export function directWriter(call: object): DirectWrite | undefined {
  let c: unknown = (call as { call?: unknown }).call;
  for (let depth = 0; depth < 32 && typeof c === "object" && c !== null; depth++) {
    if (isBaseServerCall(c)) {
      const base = c;
      return (parts, byteLength, done) => {
        const stream = base.stream;
        if (base.metadataSent !== true || base.cancelled === true || stream.destroyed || !stream.writable) return false;
        if (parts.length > 1 && byteLength < parts.length * JOIN_BELOW_AVERAGE_BYTES) {
          // Many small pieces (an Attach from seq 0 merges a line-a-second log: hundreds of
          // lines): one stream.write costs ≈ 1-2 µs of stream machinery, a copy of a few
          // bytes nothing, so they go as one frame.
          const frame = Buffer.allocUnsafe(5 + byteLength);
          frame[0] = 0;
          frame.writeUInt32BE(byteLength, 1);
          let at = 5;
          for (const part of parts) {
            frame.set(part, at);
            at += part.byteLength;
          }
          stream.write(frame, done);
          return true;
        }
        const prefix = Buffer.allocUnsafe(5);
        prefix[0] = 0; // not compressed
        prefix.writeUInt32BE(byteLength, 1);
        // Corked: one writev of prefix and pieces; the last piece's callback says it was sent.
        stream.cork();
        stream.write(prefix);
        for (let i = 0; i < parts.length; i++) stream.write(parts[i], i === parts.length - 1 ? done : undefined);
        if (parts.length === 0) stream.write(Buffer.alloc(0), done);
        stream.uncork();
        return true;
      };
    }
    c = (c as { nextCall?: unknown }).nextCall;
  }
  return undefined;
}

/** 3. Calls `listener` when the client cancels the call; returns the unsubscribe. */
export function onCancelled(call: object, listener: () => void): () => void {
  const events = call as NodeJS.EventEmitter;
  events.on("cancelled", listener);
  return () => void events.off("cancelled", listener);
}

/** The method definitions and handlers a grpc-js service installs with `addToServer(server)`. */
export type CapturedService<H> = Map<string, { def: grpc.MethodDefinition<unknown, unknown>; handler: H }>;

/** 4. Runs `install(recorder)` with a stand-in server that records each addService, by method path. */
export function captureServices<H>(install: (server: grpc.Server) => void): CapturedService<H> {
  const captured: CapturedService<H> = new Map();
  const recorder = {
    addService(service: Record<string, grpc.MethodDefinition<unknown, unknown>>, impl: Record<string, H>) {
      for (const [name, def] of Object.entries(service)) captured.set(def.path, { def, handler: impl[name]! });
    },
  };
  install(recorder as unknown as grpc.Server);
  return captured;
}
