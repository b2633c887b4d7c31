// Widens the HTTP/2 receive windows of a grpc-js server. grpc-js has a client option for
// this ('grpc-node.flow_control_window') but none for servers, which keep the 64 KiB
// default: a client stream (WriteFile, stdin) then moves one window per round trip and
// uploads idle both ends. The server's http2 listeners are private to grpc-js, so this is
// the one place that reaches for them; if a grpc-js release renames them, the server
// keeps working with the default window (and the test beside this file fails).
import type * as grpc from "@grpc/grpc-js";
import type * as http2 from "node:http2";

/** What the server buffers per stream at most before the client must wait: bounded memory either way. */
export const SERVER_STREAM_WINDOW_BYTES = 4 << 20;
/** Shared by all streams of a connection; larger than one stream's, so one upload cannot stall the others. */
export const SERVER_CONNECTION_WINDOW_BYTES = 16 << 20;

interface Windows {
  stream: number;
  connection: number;
}

/**
 * Applies `windows` to every listener the server has bound so far and to each connection
 * they accept from now on. Call after bindAsync resolved; returns how many listeners it
 * reached (0: grpc-js internals changed, default windows stay).
 */
export function widenReceiveWindows(
  server: grpc.Server,
  windows: Windows = { stream: SERVER_STREAM_WINDOW_BYTES, connection: SERVER_CONNECTION_WINDOW_BYTES },
): number {
  const listeners = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(listeners instanceof Map)) return 0;
  let reached = 0;
  for (const listener of listeners.keys()) {
    if (!isHttp2Server(listener)) continue;
    // Sent in each new connection's first SETTINGS frame: the per-stream window.
    listener.updateSettings({ initialWindowSize: windows.stream });
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
