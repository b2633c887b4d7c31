// The lean gRPC client: its own h2c client (h2c/) in clear text, node:http2 for TLS, for
// paths where loading grpc-js costs too much.
export { LeanChannel } from "./lean-channel.js";
export type { LeanChannelOptions, LeanCallOptions, UnaryMethod, ServerStreamingMethod, WireMethod } from "./lean-channel.js";
export { FrameDecoder, encodeFrame } from "./grpc-frame.js";
export { ProcessWire, SessionWire } from "./process-wire.js";
export type { AttachEvent, AttachResponseWire, ExitStatusWire, ProcessSpecInit, ProcessSummary, SessionEventWire, SessionReadyWire, StartRequestInit, TtySizeInit } from "./process-wire.js";
export { statusFromHeaders, checkResponseHeaders, encodeTimeout, percentDecode } from "./grpc-call-status.js";
