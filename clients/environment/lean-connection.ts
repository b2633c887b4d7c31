// The exec clients over the lean node:http2 transport instead of grpc-js: the same typed
// clients (generated codecs), so GrpcEnvironment's engine runs unchanged on it and the
// conformance suite holds the lean transport as it holds grpc-js.
import { EnvironmentService } from "../../gen/tether/exec/v1/environment_pb.js";
import { FileSystemService } from "../../gen/tether/exec/v1/filesystem_pb.js";
import { ProcessService } from "../../gen/tether/exec/v1/process_pb.js";
import { SessionService } from "../../gen/tether/exec/v1/session_pb.js";
import { bindTransport } from "../../services/common/gen-methods.js";
import { CLIENT_STREAM_WINDOW_BYTES } from "../../services/common/resume-window.js";
import { type NetworkTarget, leanTarget } from "./env-target.js";
import type { ConnectionOptions, ExecClients } from "./grpc-connection.js";
import { LeanTransport } from "./lean/lean-transport.js";

/** As the grpc-js connection: a 4 MiB window (well under the server's 8 MiB resume history) and keepalive. */
export function createLeanConnection(target: NetworkTarget, options: ConnectionOptions = {}): ExecClients {
  const transport = new LeanTransport({
    target: leanTarget(target),
    token: options.token,
    caPem: options.caPem,
    clientCertPem: options.clientCertPem,
    clientKeyPem: options.clientKeyPem,
    serverName: options.serverName,
    windowBytes: CLIENT_STREAM_WINDOW_BYTES,
    keepaliveMs: options.keepaliveMs ?? 10_000,
  });
  return {
    processes: bindTransport(ProcessService, transport),
    sessions: bindTransport(SessionService, transport),
    environment: bindTransport(EnvironmentService, transport),
    files: bindTransport(FileSystemService, transport),
    close: () => void transport.close().catch(() => undefined),
  };
}
