// AgentService over gRPC: check the request, call one AgentCore method, answer. All shape
// conversion is in agent-proto.ts.
import type { GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import type { AgentService } from "../../../gen/tether/agent/v1/agent_pb.js";
import type { ServiceHandlers } from "../../common/grpc-service.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { AgentCore } from "../agent-core.js";
import {
  approvalRequestToPb,
  decisionFromPb,
  eventToPb,
  snapshotToPb,
  threadInfoToPb,
  threadOptionsFromPb,
  threadOverridesFromPb,
  threadSettingsFromPb,
} from "./agent-proto.js";

type Methods = typeof AgentService extends { method: infer M extends GenServiceMethods } ? M : never;

function required(value: string, field: string): string {
  if (value === "") throw new TetherError(ErrorCode.InvalidArgument, `${field} is empty`);
  return value;
}

function parseSchema(json: string): Record<string, unknown> | undefined {
  if (json === "") return undefined;
  try {
    const value: unknown = JSON.parse(json);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // Reported below with the field's name.
  }
  throw new TetherError(ErrorCode.InvalidArgument, "output_schema_json is not a JSON object");
}

export function agentHandlers(core: AgentCore): ServiceHandlers<Methods> {
  return {
    async startThread(req, ctx) {
      return { thread: threadInfoToPb(await core.startThread(threadOptionsFromPb(req.options), { signal: ctx.signal })) };
    },
    async resumeThread(req, ctx) {
      return { thread: threadInfoToPb(await core.resumeThread(required(req.threadId, "thread_id"), threadOverridesFromPb(req.overrides), { signal: ctx.signal })) };
    },
    async forkThread(req, ctx) {
      const options = req.turns === undefined ? {} : { turns: req.turns };
      return { thread: threadInfoToPb(await core.forkThread(required(req.threadId, "thread_id"), options, { signal: ctx.signal })) };
    },
    async updateThreadSettings(req, ctx) {
      return { thread: threadInfoToPb(await core.updateThreadSettings(required(req.threadId, "thread_id"), threadSettingsFromPb(req), { signal: ctx.signal })) };
    },
    async rollbackThread(req) {
      return { thread: threadInfoToPb(await core.rollback(required(req.threadId, "thread_id"), req.turns)) };
    },
    async listThreads(req) {
      const threads = await core.listThreads({ ...(req.limit ? { limit: req.limit } : {}), ...(req.cwd ? { cwd: req.cwd } : {}) });
      return { threads: threads.map(threadInfoToPb) };
    },
    async readThread(req) {
      return snapshotToPb(await core.readThread(required(req.threadId, "thread_id")));
    },
    async startTurn(req) {
      const outputSchema = parseSchema(req.outputSchemaJson);
      return core.startTurn(required(req.threadId, "thread_id"), { text: req.text, ...(outputSchema ? { outputSchema } : {}) });
    },
    async steerTurn(req) {
      await core.steer(required(req.threadId, "thread_id"), req.text);
      return {};
    },
    async interruptTurn(req) {
      await core.interrupt(required(req.threadId, "thread_id"));
      return {};
    },
    async *events(req, ctx) {
      const events = await core.events(required(req.threadId, "thread_id"), { controller: req.controller, signal: ctx.signal });
      for await (const event of events) yield { event: eventToPb(event) };
    },
    async listPendingApprovals(req) {
      return { requests: (await core.listPendingApprovals(required(req.threadId, "thread_id"))).map(approvalRequestToPb) };
    },
    async respond(req) {
      await core.respond(required(req.threadId, "thread_id"), required(req.requestId, "request_id"), decisionFromPb(req.decision));
      return {};
    },
  };
}
