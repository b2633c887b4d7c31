// The one mapping between the core's plain event data and tether.agent.v1 messages, both
// ways (the server sends, the gRPC client rebuilds the same core shapes). Enums follow one
// naming rule: the core's string with - or _ as the proto value name in upper case.
import type { MessageInitShape } from "@bufbuild/protobuf";
import * as pb from "../../../gen/tether/agent/v1/agent_pb.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { ThreadOptions, ThreadSettings, ThreadSnapshot } from "../../../clients/agent/agent-client.js";
import type * as core from "../policy/approval-types.js";
import type { ThreadEvent, ThreadInfo, ThreadItem, Usage } from "../thread/thread-event.js";
import { fromEnum, toEnum } from "./agent-enum.js";


// ---- thread options and info --------------------------------------------------------------

export function approvalPolicyToPb(p: core.ApprovalPolicy): MessageInitShape<typeof pb.ApprovalPolicySchema> {
  if (typeof p === "string") return { mode: toEnum(pb.ApprovalMode, p) };
  return { mode: toEnum(pb.ApprovalMode, p.mode), reject: p.reject.map((k) => toEnum(pb.PromptKind, k)) };
}

export function approvalPolicyFromPb(p: pb.ApprovalPolicy | undefined, field: string): core.ApprovalPolicy {
  const mode = fromEnum<core.ApprovalPolicyMode>(pb.ApprovalMode, p?.mode ?? 0, "-", `${field}.mode`);
  if (!p || p.reject.length === 0) return mode;
  return { mode, reject: p.reject.map((k) => fromEnum<core.PromptKind>(pb.PromptKind, k, "_", `${field}.reject`)) };
}

export function threadOptionsToPb(o: Partial<ThreadOptions>): MessageInitShape<typeof pb.ThreadOptionsSchema> {
  return {
    cwd: o.cwd ?? "",
    environment: o.environment ?? "",
    model: o.model ?? "",
    sandbox: o.sandbox ? toEnum(pb.SandboxMode, o.sandbox) : 0,
    ...(o.approvalPolicy ? { approvalPolicy: approvalPolicyToPb(o.approvalPolicy) } : {}),
    writableRoots: o.writableRoots ?? [],
  };
}

/** Full options (StartThread): every field is required. */
export function threadOptionsFromPb(o: pb.ThreadOptions | undefined): ThreadOptions {
  if (!o) throw new TetherError(ErrorCode.InvalidArgument, "options is unset");
  for (const f of ["cwd", "environment", "model"] as const) {
    if (o[f] === "") throw new TetherError(ErrorCode.InvalidArgument, `options.${f} is empty`);
  }
  return {
    cwd: o.cwd,
    environment: o.environment,
    model: o.model,
    sandbox: fromEnum<core.SandboxMode>(pb.SandboxMode, o.sandbox, "-", "options.sandbox"),
    approvalPolicy: approvalPolicyFromPb(o.approvalPolicy, "options.approval_policy"),
    writableRoots: o.writableRoots,
  };
}

/** Overrides (ResumeThread): only what is set. */
export function threadOverridesFromPb(o: pb.ThreadOptions | undefined): Partial<ThreadOptions> {
  if (!o) return {};
  return {
    ...(o.cwd ? { cwd: o.cwd } : {}),
    ...(o.environment ? { environment: o.environment } : {}),
    ...(o.model ? { model: o.model } : {}),
    ...(o.sandbox ? { sandbox: fromEnum<core.SandboxMode>(pb.SandboxMode, o.sandbox, "-", "overrides.sandbox") } : {}),
    ...(o.approvalPolicy?.mode ? { approvalPolicy: approvalPolicyFromPb(o.approvalPolicy, "overrides.approval_policy") } : {}),
    ...(o.writableRoots.length > 0 ? { writableRoots: o.writableRoots } : {}),
  };
}

/** UpdateThreadSettings: what is set changes (an unset writable_roots keeps the roots, an empty one clears them). */
export function threadSettingsToPb(threadId: string, s: ThreadSettings): MessageInitShape<typeof pb.UpdateThreadSettingsRequestSchema> {
  return {
    threadId,
    model: s.model ?? "",
    sandbox: s.sandbox ? toEnum(pb.SandboxMode, s.sandbox) : 0,
    ...(s.approvalPolicy ? { approvalPolicy: approvalPolicyToPb(s.approvalPolicy) } : {}),
    ...(s.writableRoots ? { writableRoots: { roots: s.writableRoots } } : {}),
  };
}

export function threadSettingsFromPb(r: pb.UpdateThreadSettingsRequest): ThreadSettings {
  return {
    ...(r.model ? { model: r.model } : {}),
    ...(r.sandbox ? { sandbox: fromEnum<core.SandboxMode>(pb.SandboxMode, r.sandbox, "-", "sandbox") } : {}),
    ...(r.approvalPolicy?.mode ? { approvalPolicy: approvalPolicyFromPb(r.approvalPolicy, "approval_policy") } : {}),
    ...(r.writableRoots ? { writableRoots: r.writableRoots.roots } : {}),
  };
}

export function threadInfoToPb(t: ThreadInfo): MessageInitShape<typeof pb.ThreadInfoSchema> {
  return {
    ...t,
    sandbox: toEnum(pb.SandboxMode, t.sandbox),
    approvalPolicy: approvalPolicyToPb(t.approvalPolicy),
    ...(t.forkedFrom ? { forkedFrom: t.forkedFrom } : {}),
  };
}

export function threadInfoFromPb(t: pb.ThreadInfo | undefined): ThreadInfo {
  if (!t) throw new TetherError(ErrorCode.Internal, "the server sent no thread info");
  return {
    threadId: t.threadId,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
    cwd: t.cwd,
    environment: t.environment,
    model: t.model,
    sandbox: fromEnum<core.SandboxMode>(pb.SandboxMode, t.sandbox, "-", "thread.sandbox"),
    approvalPolicy: approvalPolicyFromPb(t.approvalPolicy, "thread.approval_policy"),
    preview: t.preview,
    ...(t.forkedFrom ? { forkedFrom: { threadId: t.forkedFrom.threadId, turnCount: t.forkedFrom.turnCount } } : {}),
  };
}

function usageToPb(u: Usage): MessageInitShape<typeof pb.UsageSchema> {
  return { inputTokens: BigInt(u.inputTokens), cachedInputTokens: BigInt(u.cachedInputTokens), outputTokens: BigInt(u.outputTokens), reasoningOutputTokens: BigInt(u.reasoningOutputTokens) };
}

function usageFromPb(u: pb.Usage | undefined): Usage {
  return { inputTokens: Number(u?.inputTokens ?? 0), cachedInputTokens: Number(u?.cachedInputTokens ?? 0), outputTokens: Number(u?.outputTokens ?? 0), reasoningOutputTokens: Number(u?.reasoningOutputTokens ?? 0) };
}

export { itemToPb, itemFromPb } from "./agent-proto-items.js";
export { approvalRequestFromPb, approvalRequestToPb, decisionFromPb, decisionToPb } from "./agent-proto-approvals.js";
import { itemFromPb, itemToPb } from "./agent-proto-items.js";

// ---- events -------------------------------------------------------------------------------

export function eventToPb(e: ThreadEvent): MessageInitShape<typeof pb.ThreadEventSchema> {
  switch (e.type) {
    case "thread.started":
      return { event: { case: "threadStarted", value: { thread: threadInfoToPb(e.thread) } } };
    case "thread.settings_updated":
      return { event: { case: "threadSettingsUpdated", value: { thread: threadInfoToPb(e.thread), writableRoots: e.writableRoots } } };
    case "turn.started":
      return { event: { case: "turnStarted", value: { turnId: e.turnId } } };
    case "turn.completed":
      return { event: { case: "turnCompleted", value: { turnId: e.turnId, usage: usageToPb(e.usage) } } };
    case "turn.failed":
      return { event: { case: "turnFailed", value: { turnId: e.turnId, usage: usageToPb(e.usage), error: { code: e.error.code, message: e.error.message } } } };
    case "turn.interrupted":
      return { event: { case: "turnInterrupted", value: { turnId: e.turnId, usage: usageToPb(e.usage) } } };
    case "item.started":
      return { event: { case: "itemStarted", value: { turnId: e.turnId, item: itemToPb(e.item) } } };
    case "item.updated":
      return { event: { case: "itemUpdated", value: { turnId: e.turnId, item: itemToPb(e.item) } } };
    case "item.completed":
      return { event: { case: "itemCompleted", value: { turnId: e.turnId, item: itemToPb(e.item) } } };
    case "item.delta":
      return { event: { case: "itemDelta", value: { turnId: e.turnId, itemId: e.itemId, kind: toEnum(pb.DeltaKind, e.kind), delta: e.delta } } };
    case "model.retrying":
      return { event: { case: "modelRetrying", value: { turnId: e.turnId, attempt: e.attempt, maxAttempts: e.maxAttempts, delayMs: Math.round(e.delayMs), reason: e.reason } } };
    case "warning":
      return { event: { case: "warning", value: { message: e.message, id: e.id ?? "" } } };
  }
}

export function eventFromPb(m: pb.ThreadEvent | undefined): ThreadEvent {
  const e = m?.event;
  switch (e?.case) {
    case "threadStarted":
      return { type: "thread.started", thread: threadInfoFromPb(e.value.thread) };
    case "threadSettingsUpdated":
      return { type: "thread.settings_updated", thread: threadInfoFromPb(e.value.thread), writableRoots: e.value.writableRoots };
    case "turnStarted":
      return { type: "turn.started", turnId: e.value.turnId };
    case "turnCompleted":
      return { type: "turn.completed", turnId: e.value.turnId, usage: usageFromPb(e.value.usage) };
    case "turnFailed":
      return { type: "turn.failed", turnId: e.value.turnId, usage: usageFromPb(e.value.usage), error: { code: e.value.error?.code ?? "UNKNOWN", message: e.value.error?.message ?? "" } };
    case "turnInterrupted":
      return { type: "turn.interrupted", turnId: e.value.turnId, usage: usageFromPb(e.value.usage) };
    case "itemStarted":
      return { type: "item.started", turnId: e.value.turnId, item: itemFromPb(e.value.item) };
    case "itemUpdated":
      return { type: "item.updated", turnId: e.value.turnId, item: itemFromPb(e.value.item) };
    case "itemCompleted":
      return { type: "item.completed", turnId: e.value.turnId, item: itemFromPb(e.value.item) };
    case "itemDelta":
      return { type: "item.delta", turnId: e.value.turnId, itemId: e.value.itemId, kind: fromEnum(pb.DeltaKind, e.value.kind, "_", "kind"), delta: e.value.delta };
    case "modelRetrying":
      return { type: "model.retrying", turnId: e.value.turnId, attempt: e.value.attempt, maxAttempts: e.value.maxAttempts, delayMs: e.value.delayMs, reason: e.value.reason };
    case "warning":
      return { type: "warning", message: e.value.message, ...(e.value.id ? { id: e.value.id } : {}) };
    default:
      throw new TetherError(ErrorCode.Internal, "the server sent an empty event");
  }
}

export function snapshotToPb(s: ThreadSnapshot): MessageInitShape<typeof pb.ReadThreadResponseSchema> {
  return { thread: threadInfoToPb(s.thread), turns: s.turns.map((t) => ({ turnId: t.turnId, status: toEnum(pb.TurnStatus, t.status), items: t.items.map(itemToPb) })) };
}

export function snapshotFromPb(s: pb.ReadThreadResponse): ThreadSnapshot {
  return {
    thread: threadInfoFromPb(s.thread),
    turns: s.turns.map((t) => ({ turnId: t.turnId, status: fromEnum(pb.TurnStatus, t.status, "_", "status"), items: t.items.map((i) => itemFromPb(i)) })),
  };
}

export type { ThreadItem };
