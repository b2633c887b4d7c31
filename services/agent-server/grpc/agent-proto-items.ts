// Thread items to and from tether.agent.v1.ThreadItem (the item half of agent-proto.ts).
import type { MessageInitShape } from "@bufbuild/protobuf";
import * as pb from "../../../gen/tether/agent/v1/agent_pb.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { FileChange, ItemStatus, PlanStepStatus, ThreadItem } from "../thread/thread-event.js";
import { approvalRequestFromPb, approvalRequestToPb, decisionFromPb, decisionToPb } from "./agent-proto-approvals.js";

const STATUS: Record<ItemStatus, pb.ItemStatus> = {
  in_progress: pb.ItemStatus.IN_PROGRESS,
  completed: pb.ItemStatus.COMPLETED,
  failed: pb.ItemStatus.FAILED,
  declined: pb.ItemStatus.DECLINED,
};
const STATUS_BACK = new Map(Object.entries(STATUS).map(([k, v]) => [v, k as ItemStatus]));
const status = (s: pb.ItemStatus): ItemStatus => STATUS_BACK.get(s) ?? "completed";

const STEP: Record<PlanStepStatus, pb.PlanStepStatus> = {
  pending: pb.PlanStepStatus.PENDING,
  in_progress: pb.PlanStepStatus.IN_PROGRESS,
  completed: pb.PlanStepStatus.COMPLETED,
};
const STEP_BACK = new Map(Object.entries(STEP).map(([k, v]) => [v, k as PlanStepStatus]));

const KIND: Record<FileChange["kind"], pb.FileChangeKind> = { add: pb.FileChangeKind.ADD, update: pb.FileChangeKind.UPDATE, delete: pb.FileChangeKind.DELETE };
const KIND_BACK = new Map(Object.entries(KIND).map(([k, v]) => [v, k as FileChange["kind"]]));

const DECIDED_BY = { user: pb.DecidedBy.USER, policy: pb.DecidedBy.POLICY, timeout: pb.DecidedBy.TIMEOUT, server: pb.DecidedBy.SERVER } as const;
type DecidedByName = keyof typeof DECIDED_BY;
const DECIDED_BACK = new Map(Object.entries(DECIDED_BY).map(([k, v]) => [v as pb.DecidedBy, k as DecidedByName]));

export function itemToPb(i: ThreadItem): MessageInitShape<typeof pb.ThreadItemSchema> {
  switch (i.type) {
    case "user_message":
      return { id: i.id, item: { case: "userMessage", value: { text: i.text } } };
    case "agent_message":
      return { id: i.id, item: { case: "agentMessage", value: { text: i.text } } };
    case "reasoning":
      return { id: i.id, item: { case: "reasoning", value: { text: i.text } } };
    case "command_execution":
      return {
        id: i.id,
        item: {
          case: "commandExecution",
          value: {
            callId: i.callId, command: i.command, cwd: i.cwd, sessionId: i.sessionId ?? "", output: i.output, status: STATUS[i.status],
            ...(i.exitCode === undefined ? {} : { exitCode: i.exitCode }),
            ...(i.durationMs === undefined ? {} : { durationMs: BigInt(Math.round(i.durationMs)) }),
          },
        },
      };
    case "file_change":
      return {
        id: i.id,
        item: { case: "fileChange", value: { callId: i.callId, status: STATUS[i.status], error: i.error ?? "", changes: i.changes.map((c) => ({ path: c.path, kind: KIND[c.kind], movePath: c.movePath ?? "", diff: c.diff ?? "" })) } },
      };
    case "plan":
      return { id: i.id, item: { case: "plan", value: { explanation: i.explanation ?? "", steps: i.steps.map((s) => ({ step: s.step, status: STEP[s.status] })) } } };
    case "approval":
      return {
        id: i.id,
        item: {
          case: "approval",
          value: { request: approvalRequestToPb(i.request), ...(i.decision ? { decision: decisionToPb(i.decision) } : {}), ...(i.decidedBy ? { decidedBy: DECIDED_BY[i.decidedBy] } : {}) },
        },
      };
    case "tool_call":
      return { id: i.id, item: { case: "toolCall", value: { callId: i.callId, name: i.name, arguments: i.arguments, status: STATUS[i.status], ...(i.output === undefined ? {} : { output: i.output }) } } };
    case "error":
      return { id: i.id, item: { case: "error", value: { message: i.message } } };
  }
}

export function itemFromPb(m: pb.ThreadItem | undefined): ThreadItem {
  const v = m?.item;
  const id = m?.id ?? "";
  switch (v?.case) {
    case "userMessage":
      return { type: "user_message", id, text: v.value.text };
    case "agentMessage":
      return { type: "agent_message", id, text: v.value.text };
    case "reasoning":
      return { type: "reasoning", id, text: v.value.text };
    case "commandExecution": {
      const c = v.value;
      return {
        type: "command_execution", id, callId: c.callId, command: c.command, cwd: c.cwd, output: c.output, status: status(c.status),
        ...(c.sessionId ? { sessionId: c.sessionId } : {}),
        ...(c.exitCode === undefined ? {} : { exitCode: c.exitCode }),
        ...(c.durationMs === undefined ? {} : { durationMs: Number(c.durationMs) }),
      };
    }
    case "fileChange":
      return {
        type: "file_change", id, callId: v.value.callId, status: status(v.value.status), ...(v.value.error ? { error: v.value.error } : {}),
        changes: v.value.changes.map((c) => ({ path: c.path, kind: KIND_BACK.get(c.kind) ?? "update", ...(c.movePath ? { movePath: c.movePath } : {}), ...(c.diff ? { diff: c.diff } : {}) })),
      };
    case "plan":
      return { type: "plan", id, ...(v.value.explanation ? { explanation: v.value.explanation } : {}), steps: v.value.steps.map((s) => ({ step: s.step, status: STEP_BACK.get(s.status) ?? "pending" })) };
    case "approval": {
      const decidedBy = DECIDED_BACK.get(v.value.decidedBy);
      return {
        type: "approval", id, request: approvalRequestFromPb(v.value.request),
        ...(v.value.decision ? { decision: decisionFromPb(v.value.decision) } : {}),
        ...(decidedBy ? { decidedBy } : {}),
      };
    }
    case "toolCall":
      return { type: "tool_call", id, callId: v.value.callId, name: v.value.name, arguments: v.value.arguments, status: status(v.value.status), ...(v.value.output === undefined ? {} : { output: v.value.output }) };
    case "error":
      return { type: "error", id, message: v.value.message };
    default:
      throw new TetherError(ErrorCode.Internal, "the server sent an item without content");
  }
}
