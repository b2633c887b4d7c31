// SessionService over gRPC: check the request, call one core method, answer.
import type { GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import type { SessionService } from "../../../gen/tether/exec/v1/session_pb.js";
import type { ServiceHandlers } from "../../common/grpc-service.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { ExecCore } from "../exec-core.js";

/** A decision's reason reaches the command's stderr: a sentence, not a payload. */
const MAX_REASON_LENGTH = 4096;

type Methods = typeof SessionService extends { method: infer M extends GenServiceMethods } ? M : never;

function requireSession(sessionId: string): string {
  if (sessionId === "") throw new TetherError(ErrorCode.InvalidArgument, "session_id is empty: pass the id OpenSession returned");
  return sessionId;
}

export function sessionHandlers(core: ExecCore): ServiceHandlers<Methods> {
  return {
    async openSession(req) {
      const { session, resumed } = core.openSession(req.sessionId, req.detachedTtlMs, req.labels, req.defaultSandbox, req.decisionTimeoutMs);
      return {
        sessionId: session.id,
        resumed,
        detachedTtlMs: session.detachedTtlMs,
        elicitationCount: session.elicitationCount,
        decisionTimeoutMs: session.decisionTimeoutMs,
      };
    },
    events(req, ctx) {
      return core.sessionEvents(requireSession(req.sessionId), req.controller, ctx.signal);
    },
    async closeSession(req) {
      return { processesKilled: await core.closeSession(requireSession(req.sessionId)) };
    },
    async incrementElicitation(req) {
      return { count: core.incrementElicitation(requireSession(req.sessionId)) };
    },
    async decrementElicitation(req) {
      return { count: core.decrementElicitation(requireSession(req.sessionId)) };
    },
    async decide(req) {
      if (req.escalationId === "") throw new TetherError(ErrorCode.InvalidArgument, "escalation_id is empty");
      if (req.reason.length > MAX_REASON_LENGTH) {
        throw new TetherError(ErrorCode.InvalidArgument, `reason is ${req.reason.length} characters; the limit is ${MAX_REASON_LENGTH}: say it shorter`);
      }
      core.decide(requireSession(req.sessionId), req.escalationId, req.decision, req.reason);
      return {};
    },
    async setSandbox(req) {
      core.setSessionSandbox(requireSession(req.sessionId), req.defaultSandbox);
      return {};
    },
    async decideNetwork(req) {
      if (req.requestId === "") throw new TetherError(ErrorCode.InvalidArgument, "request_id is empty");
      core.decideNetwork(requireSession(req.sessionId), req.requestId, req.decision, req.reason);
      return {};
    },
  };
}
