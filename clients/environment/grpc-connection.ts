// One gRPC channel to an exec server with every tether.exec.v1 client bound to it,
// credentials (TLS with a private CA, bearer token) and keepalive to notice dead links.
import * as grpc from "@grpc/grpc-js";
import { EnvironmentService } from "../../gen/tether/exec/v1/environment_pb.js";
import { FileSystemService } from "../../gen/tether/exec/v1/filesystem_pb.js";
import { ProcessService } from "../../gen/tether/exec/v1/process_pb.js";
import { SessionService } from "../../gen/tether/exec/v1/session_pb.js";
import type { GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { type GrpcClient, bindClient } from "../../services/common/grpc-client.js";
import { CLIENT_STREAM_WINDOW_BYTES } from "../../services/common/resume-window.js";
import { type NetworkTarget, grpcTarget } from "./env-target.js";

export interface ConnectionOptions {
  token?: string;
  /** PEM of the CA that signed the server's certificate (grpcs). */
  caPem?: Buffer;
  /** Client certificate for mTLS. */
  clientCertPem?: Buffer;
  clientKeyPem?: Buffer;
  /** Name to verify the server certificate against, when it differs from the host. */
  serverName?: string;
  keepaliveMs?: number;
}

export type { NetworkTarget } from "./env-target.js";

export function createConnection(target: NetworkTarget, options: ConnectionOptions = {}): ExecClients {
  const creds =
    target.kind === "grpcs"
      ? grpc.credentials.createSsl(options.caPem ?? null, options.clientKeyPem ?? null, options.clientCertPem ?? null)
      : grpc.credentials.createInsecure();
  const keepalive = options.keepaliveMs ?? 10_000;
  const channelOptions: grpc.ClientOptions = {
    "grpc.max_receive_message_length": 16 << 20,
    "grpc.max_send_message_length": 16 << 20,
    "grpc.keepalive_time_ms": keepalive,
    "grpc.keepalive_timeout_ms": Math.max(1000, Math.floor(keepalive / 2)),
    "grpc.keepalive_permit_without_calls": 1,
    // The HTTP/2 default window (64 KiB) caps a stream at one window per round trip: streaming
    // output then idles both ends. The window is also what a cut can lose in flight: the
    // resume-window invariant (services/common/resume-window.ts) keeps it under the resume history.
    "grpc-node.flow_control_window": CLIENT_STREAM_WINDOW_BYTES,
    "grpc.initial_reconnect_backoff_ms": 100,
    "grpc.max_reconnect_backoff_ms": 2000,
    // Nothing reads channelz here; on, grpc-js keeps per-message counters and timestamps on
    // the transport (a PTY's every keystroke and echo), as the server found (grpc-server.ts).
    "grpc.enable_channelz": 0,
    ...(options.serverName ? { "grpc.ssl_target_name_override": options.serverName, "grpc.default_authority": options.serverName } : {}),
  };
  const raw = new grpc.Client(grpcTarget(target), creds, channelOptions);
  const metadata = new grpc.Metadata();
  if (options.token) metadata.set("authorization", `Bearer ${options.token}`);
  const bind = { metadata };
  return {
    processes: bindClient(ProcessService, raw, bind),
    sessions: bindClient(SessionService, raw, bind),
    environment: bindClient(EnvironmentService, raw, bind),
    files: bindClient(FileSystemService, raw, bind),
    close: () => raw.close(),
  };
}

/** The four tether.exec.v1 clients an Environment drives: over gRPC, or in memory. */
export interface ExecClients {
  processes: GrpcClient<ServiceMethods<typeof ProcessService>>;
  sessions: GrpcClient<ServiceMethods<typeof SessionService>>;
  environment: GrpcClient<ServiceMethods<typeof EnvironmentService>>;
  files: GrpcClient<ServiceMethods<typeof FileSystemService>>;
  close(): void;
}

type ServiceMethods<S> = S extends { method: infer M extends GenServiceMethods } ? M : never;

export type Connection = ExecClients;
