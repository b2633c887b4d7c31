// Approval requests and decisions to and from tether.agent.v1 (the approval half of agent-proto.ts).
import type { MessageInitShape } from "@bufbuild/protobuf";
import * as pb from "../../../gen/tether/agent/v1/agent_pb.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type * as core from "../policy/approval-types.js";
import { fromEnum, toEnum } from "./agent-enum.js";

function ruleToPb(r: core.PrefixRuleProposal): MessageInitShape<typeof pb.PrefixRuleProposalSchema> {
  return { pattern: r.pattern, decision: toEnum(pb.RuleDecision, r.decision), justification: r.justification ?? "" };
}

function ruleFromPb(r: pb.PrefixRuleProposal, field: string): core.PrefixRuleProposal {
  if (r.pattern.length === 0) throw new TetherError(ErrorCode.InvalidArgument, `${field}.pattern is empty`);
  return { pattern: r.pattern, decision: fromEnum(pb.RuleDecision, r.decision, "_", `${field}.decision`), ...(r.justification ? { justification: r.justification } : {}) };
}

export function decisionToPb(d: core.ApprovalDecision): MessageInitShape<typeof pb.ApprovalDecisionSchema> {
  return {
    type: toEnum(pb.DecisionType, d.type),
    ...(d.type === "accept_with_rule" && d.rule !== undefined ? { rule: ruleToPb(d.rule) } : {}),
    ...(d.type === "decline" && d.reason ? { reason: d.reason } : {}),
  };
}

export function decisionFromPb(d: pb.ApprovalDecision | undefined, field = "decision"): core.ApprovalDecision {
  if (!d) throw new TetherError(ErrorCode.InvalidArgument, `${field} is unset`);
  const type = fromEnum<core.ApprovalDecisionType>(pb.DecisionType, d.type, "_", `${field}.type`);
  if (type === "accept_with_rule") {
    // Unset: the rule the request proposed (a network request's is implied by its host).
    return d.rule ? { type, rule: ruleFromPb(d.rule, `${field}.rule`) } : { type };
  }
  if (type === "decline") return d.reason ? { type, reason: d.reason } : { type };
  return { type };
}

function actionToPb(a: core.ProposedAction): MessageInitShape<typeof pb.ProposedActionSchema> {
  switch (a.kind) {
    case "command":
      return { action: { case: "command", value: { commandLine: a.commandLine, argv: a.argv, cwd: a.cwd, escalated: a.escalated, justification: a.justification ?? "" } } };
    case "retry_unsandboxed":
      return { action: { case: "retryUnsandboxed", value: { commandLine: a.commandLine, argv: a.argv, cwd: a.cwd, failure: a.failure } } };
    case "file_change":
      return { action: { case: "fileChange", value: { paths: a.paths, outsideWritableRoots: a.outsideWritableRoots } } };
    case "escalation":
      return { action: { case: "escalation", value: { file: a.file, argv: a.argv, cwd: a.cwd } } };
    case "network":
      return { action: { case: "network", value: { host: a.host, port: a.port } } };
    case "permissions":
      return { action: { case: "permissions", value: { reason: a.reason, writableRoots: a.writableRoots ?? [], ...(a.network === undefined ? {} : { network: a.network }) } } };
  }
}

function actionFromPb(a: pb.ProposedAction | undefined): core.ProposedAction {
  const v = a?.action;
  switch (v?.case) {
    case "command":
      return { kind: "command", commandLine: v.value.commandLine, argv: v.value.argv, cwd: v.value.cwd, escalated: v.value.escalated, ...(v.value.justification ? { justification: v.value.justification } : {}) };
    case "retryUnsandboxed":
      return { kind: "retry_unsandboxed", commandLine: v.value.commandLine, argv: v.value.argv, cwd: v.value.cwd, failure: v.value.failure };
    case "fileChange":
      return { kind: "file_change", paths: v.value.paths, outsideWritableRoots: v.value.outsideWritableRoots };
    case "escalation":
      return { kind: "escalation", file: v.value.file, argv: v.value.argv, cwd: v.value.cwd };
    case "network":
      return { kind: "network", host: v.value.host, port: v.value.port };
    case "permissions":
      return { kind: "permissions", reason: v.value.reason, ...(v.value.writableRoots.length ? { writableRoots: v.value.writableRoots } : {}), ...(v.value.network === undefined ? {} : { network: v.value.network }) };
    default:
      throw new TetherError(ErrorCode.Internal, "an approval request without an action");
  }
}

export function approvalRequestToPb(r: core.ApprovalRequest): MessageInitShape<typeof pb.ApprovalRequestSchema> {
  const { proposedRule, ...rest } = r;
  return {
    ...rest,
    action: actionToPb(r.action),
    promptKind: toEnum(pb.PromptKind, r.promptKind),
    ...(proposedRule ? { proposedRule: ruleToPb(proposedRule) } : {}),
    availableDecisions: r.availableDecisions.map((d) => toEnum(pb.DecisionType, d)),
  };
}

export function approvalRequestFromPb(r: pb.ApprovalRequest | undefined): core.ApprovalRequest {
  if (!r) throw new TetherError(ErrorCode.Internal, "an approval item without its request");
  return {
    requestId: r.requestId,
    threadId: r.threadId,
    turnId: r.turnId,
    callId: r.callId,
    action: actionFromPb(r.action),
    reason: r.reason,
    promptKind: fromEnum(pb.PromptKind, r.promptKind, "_", "prompt_kind"),
    ...(r.proposedRule ? { proposedRule: ruleFromPb(r.proposedRule, "proposed_rule") } : {}),
    availableDecisions: r.availableDecisions.map((d) => fromEnum<core.ApprovalDecisionType>(pb.DecisionType, d, "_", "available_decisions")),
    ...(r.command ? { command: r.command } : {}),
  };
}

