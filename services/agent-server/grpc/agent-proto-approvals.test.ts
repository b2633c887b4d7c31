import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import * as pb from "../../../gen/tether/agent/v1/agent_pb.js";
import { approvalRequestFromPb, approvalRequestToPb, decisionFromPb, decisionToPb } from "./agent-proto-approvals.js";

const roundTrip = (d: Parameters<typeof decisionToPb>[0]) => decisionFromPb(create(pb.ApprovalDecisionSchema, decisionToPb(d)));

describe("approval decisions over the wire", () => {
  it("accept_with_rule carries its rule, or none (the request's proposed one; a network request's rule is implied by its host)", () => {
    expect(roundTrip({ type: "accept_with_rule", rule: { pattern: ["git", "push"], decision: "allow" } })).toEqual({ type: "accept_with_rule", rule: { pattern: ["git", "push"], decision: "allow" } });
    expect(roundTrip({ type: "accept_with_rule" })).toEqual({ type: "accept_with_rule" });
  });

  it("a network approval request keeps its host, port and decisions", () => {
    const request = {
      requestId: "r1",
      threadId: "t",
      turnId: "u",
      callId: "c",
      action: { kind: "network" as const, host: "127.0.0.4", port: 8080 },
      reason: "a command wants to connect to 127.0.0.4:8080",
      promptKind: "sandbox_approval" as const,
      availableDecisions: ["accept" as const, "accept_for_session" as const, "accept_with_rule" as const, "decline" as const, "cancel" as const],
    };
    expect(approvalRequestFromPb(create(pb.ApprovalRequestSchema, approvalRequestToPb(request)))).toEqual(request);
    // Asked by a running process: its command goes along.
    const asked = { ...request, command: "sleep 1; curl 127.0.0.4:8080" };
    expect(approvalRequestFromPb(create(pb.ApprovalRequestSchema, approvalRequestToPb(asked)))).toEqual(asked);
  });
});
