// The agent over gRPC (tether.agent.v1): the same AgentClient an in-process agent gives,
// rebuilt from the wire by the one mapping module. Unary calls wait for the channel to be
// ready (the server may be starting); the Events stream ends when the caller stops reading.
import * as grpc from "@grpc/grpc-js";
import { readFile } from "node:fs/promises";
import { AgentService } from "../../gen/tether/agent/v1/agent_pb.js";
import { type GrpcClient, bindClient } from "../../services/common/grpc-client.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import {
  approvalRequestFromPb,
  decisionToPb,
  eventFromPb,
  snapshotFromPb,
  threadInfoFromPb,
  threadOptionsToPb,
  threadSettingsToPb,
} from "../../services/agent-server/grpc/agent-proto.js";
import type { ApprovalDecision, ApprovalRequest } from "../../services/agent-server/policy/approval-types.js";
import type { ThreadEvent, ThreadInfo } from "../../services/agent-server/thread/thread-event.js";
import { type NetworkTarget, grpcTarget, parseEnvTarget } from "../environment/env-target.js";
import type { AgentClient, ThreadOptions, ThreadSettings, ThreadSnapshot, TurnInput } from "./agent-client.js";

type Methods = typeof AgentService extends { method: infer M extends import("@bufbuild/protobuf/codegenv2").GenServiceMethods } ? M : never;

export interface GrpcAgentClientOptions {
  token?: string;
  caFile?: string;
  caPem?: Buffer;
  /** Per unary call (default 60 s). */
  timeoutMs?: number;
  /** The first connection: how long to wait for a server that accepts but is not ready (default 10 s). */
  connectTimeoutMs?: number;
}

/**
 * The first contact fails fast, as the exec environment's does: a wrong address or a server
 * that is not running says so now (UNAVAILABLE, exit 255), not after every call's 60 s wait.
 * Later calls keep waitForReady, so a restarting server is waited for.
 */
async function firstContact(raw: grpc.Client, url: string, target: NetworkTarget, timeoutMs: number): Promise<void> {
  const channel = raw.getChannel();
  const deadline = Date.now() + timeoutMs;
  const hint =
    target.kind === "unix"
      ? `is an agent server listening on ${target.path}? start one with: tether agent-server --listen unix://${target.path}`
      : `is an agent server listening on ${target.host}:${target.port}${target.kind === "grpcs" ? " with TLS, and does its certificate come from a CA this machine trusts (a private CA: --agent-ca-file)" : ""}?`;
  // Bounded: every state change is waited for with the same deadline.
  for (;;) {
    const state = channel.getConnectivityState(true);
    if (state === grpc.connectivityState.READY) return;
    if (state === grpc.connectivityState.TRANSIENT_FAILURE || state === grpc.connectivityState.SHUTDOWN) {
      throw new TetherError(ErrorCode.Unavailable, `cannot reach the agent server at ${url}: the connection failed; ${hint}`);
    }
    await new Promise<void>((resolve, reject) =>
      channel.watchConnectivityState(state, deadline, (err) =>
        err ? reject(new TetherError(ErrorCode.Unavailable, `cannot reach the agent server at ${url}: no connection within ${timeoutMs} ms; ${hint}`)) : resolve(),
      ),
    );
  }
}

function networkTarget(url: string): NetworkTarget {
  const t = parseEnvTarget(url);
  if (t.kind !== "unix" && t.kind !== "grpc" && t.kind !== "grpcs") {
    throw new TetherError(ErrorCode.InvalidArgument, `agent server URL ${JSON.stringify(url)}: use unix:///path.sock, grpc://host:port or grpcs://host:port`);
  }
  return t;
}

export class GrpcAgentClient implements AgentClient {
  readonly #client: GrpcClient<Methods> & { close(): void };
  readonly #timeoutMs: number;

  private constructor(client: GrpcClient<Methods> & { close(): void }, timeoutMs: number) {
    this.#client = client;
    this.#timeoutMs = timeoutMs;
  }

  static async connect(url: string, options: GrpcAgentClientOptions = {}): Promise<GrpcAgentClient> {
    const target = networkTarget(url);
    const caPem = options.caPem ?? (options.caFile ? await readFile(options.caFile).catch((e: unknown) => { throw TetherError.from(e, `the agent server's CA file ${options.caFile}`); }) : undefined);
    const creds = target.kind === "grpcs" ? grpc.credentials.createSsl(caPem ?? null) : grpc.credentials.createInsecure();
    const raw = new grpc.Client(grpcTarget(target), creds, {
      "grpc.max_receive_message_length": 16 << 20,
      "grpc.keepalive_time_ms": 10_000,
      "grpc.keepalive_timeout_ms": 5_000,
      "grpc.keepalive_permit_without_calls": 1,
    });
    try {
      await firstContact(raw, url, target, options.connectTimeoutMs ?? 10_000);
    } catch (err) {
      raw.close();
      throw err;
    }
    const metadata = new grpc.Metadata();
    if (options.token) metadata.set("authorization", `Bearer ${options.token}`);
    return new GrpcAgentClient(bindClient(AgentService, raw, { metadata }), options.timeoutMs ?? 60_000);
  }

  #opts() {
    return { timeoutMs: this.#timeoutMs, waitForReady: true };
  }

  async startThread(options: ThreadOptions): Promise<ThreadInfo> {
    return threadInfoFromPb((await this.#client.startThread({ options: threadOptionsToPb(options) }, this.#opts())).thread);
  }

  async resumeThread(threadId: string, overrides: Partial<ThreadOptions> = {}): Promise<ThreadInfo> {
    return threadInfoFromPb((await this.#client.resumeThread({ threadId, overrides: threadOptionsToPb(overrides) }, this.#opts())).thread);
  }

  async forkThread(threadId: string, options: { turns?: number } = {}): Promise<ThreadInfo> {
    return threadInfoFromPb((await this.#client.forkThread({ threadId, ...(options.turns === undefined ? {} : { turns: options.turns }) }, this.#opts())).thread);
  }

  async updateThreadSettings(threadId: string, settings: ThreadSettings): Promise<ThreadInfo> {
    return threadInfoFromPb((await this.#client.updateThreadSettings(threadSettingsToPb(threadId, settings), this.#opts())).thread);
  }

  async rollback(threadId: string, turns: number): Promise<ThreadInfo> {
    return threadInfoFromPb((await this.#client.rollbackThread({ threadId, turns }, this.#opts())).thread);
  }

  async listThreads(options: { limit?: number; cwd?: string } = {}): Promise<ThreadInfo[]> {
    const res = await this.#client.listThreads({ limit: options.limit ?? 0, cwd: options.cwd ?? "" }, this.#opts());
    return res.threads.map(threadInfoFromPb);
  }

  async readThread(threadId: string): Promise<ThreadSnapshot> {
    return snapshotFromPb(await this.#client.readThread({ threadId }, this.#opts()));
  }

  async startTurn(threadId: string, input: TurnInput): Promise<{ turnId: string }> {
    const res = await this.#client.startTurn({ threadId, text: input.text, outputSchemaJson: input.outputSchema ? JSON.stringify(input.outputSchema) : "" }, this.#opts());
    return { turnId: res.turnId };
  }

  async steer(threadId: string, text: string): Promise<void> {
    await this.#client.steerTurn({ threadId, text }, this.#opts());
  }

  async interrupt(threadId: string): Promise<void> {
    await this.#client.interruptTurn({ threadId }, this.#opts());
  }

  async *events(threadId: string, options: { controller?: boolean; signal?: AbortSignal } = {}): AsyncIterable<ThreadEvent> {
    const stream = this.#client.events({ threadId, controller: options.controller ?? false }, { signal: options.signal, waitForReady: true });
    for await (const res of stream) yield eventFromPb(res.event);
  }

  async listPendingApprovals(threadId: string): Promise<ApprovalRequest[]> {
    return (await this.#client.listPendingApprovals({ threadId }, this.#opts())).requests.map(approvalRequestFromPb);
  }

  async respond(threadId: string, requestId: string, decision: ApprovalDecision): Promise<void> {
    await this.#client.respond({ threadId, requestId, decision: decisionToPb(decision) }, this.#opts());
  }

  async close(): Promise<void> {
    this.#client.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
