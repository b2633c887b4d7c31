// An exec server for fuzz tests: a real ExecCore behind the real gRPC server on a
// Unix socket in a private temp dir, plus typed clients and a health probe.
import * as grpc from "@grpc/grpc-js";
import { mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { EnvironmentService } from "../../gen/tether/exec/v1/environment_pb.js";
import { FileSystemService } from "../../gen/tether/exec/v1/filesystem_pb.js";
import { ProcessService } from "../../gen/tether/exec/v1/process_pb.js";
import { SessionService } from "../../gen/tether/exec/v1/session_pb.js";
import { bindClient } from "../../services/common/grpc-client.js";
import { ExecCore, type ExecCoreOptions } from "../../services/exec-server/exec-core.js";
import { type ExecServer, startExecServer } from "../../services/exec-server/grpc/exec-server.js";

export interface FuzzServer extends AsyncDisposable {
  readonly core: ExecCore;
  readonly server: ExecServer;
  /** Private temp dir (realpath), also the server's default cwd. */
  readonly dir: string;
  readonly url: string;
  readonly clients: ReturnType<typeof fuzzClients>;
  /** True when grpc.health.v1 Health/Check answers SERVING. */
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}

export function fuzzClients(url: string) {
  const raw = new grpc.Client(url, grpc.credentials.createInsecure(), {
    "grpc.max_send_message_length": 64 << 20,
    "grpc.max_receive_message_length": 64 << 20,
  });
  return {
    raw,
    process: bindClient(ProcessService, raw),
    session: bindClient(SessionService, raw),
    environment: bindClient(EnvironmentService, raw),
    files: bindClient(FileSystemService, raw),
    health: bindClient(Health, raw),
  };
}

export async function startFuzzServer(options: ExecCoreOptions = {}): Promise<FuzzServer> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), "tether-fuzz-")));
  const core = await ExecCore.create({ defaultCwd: dir, defaultSandboxMode: "read-only", ...options });
  const server = await startExecServer(core, { listen: `unix://${join(dir, "exec.sock")}` });
  const clients = fuzzClients(server.url);
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      clients.raw.close();
      await core.close();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    })());
  return {
    core,
    server,
    dir,
    url: server.url,
    clients,
    async healthy() {
      const res = await clients.health.check({ service: "" }, { timeoutMs: 5000 });
      return res.status === HealthCheckResponse_ServingStatus.SERVING;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
