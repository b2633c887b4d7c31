// A fail-closed policy from the approval mode alone (no execpolicy rules): what a thread
// uses when no rule engine is configured. Session grants are kept by command line.
import type { Assessment, PrefixRuleProposal, ProposedAction } from "../policy/approval-types.js";
import type { PolicyContext, ThreadPolicy } from "./thread-services.js";

function key(action: ProposedAction): string {
  switch (action.kind) {
    case "command":
    case "retry_unsandboxed":
      return `cmd:${action.argv.length > 0 ? action.argv.join(" ") : action.commandLine}`;
    case "escalation":
      return `cmd:${action.argv.join(" ")}`;
    case "file_change":
      return `files:${action.paths.join(",")}`;
    case "network":
      return `net:${action.host}`;
    case "permissions":
      return `perm:${action.reason}`;
  }
}

export function basicThreadPolicy(): ThreadPolicy {
  const grants = new Set<string>();
  const rules: PrefixRuleProposal[] = [];
  const ruleFor = (argv: string[]) => rules.find((r) => r.pattern.length <= argv.length && r.pattern.every((p, i) => argv[i] === p));
  return {
    assess(action: ProposedAction, ctx: PolicyContext): Assessment {
      const mode = typeof ctx.approvalPolicy === "string" ? ctx.approvalPolicy : ctx.approvalPolicy.mode;
      const argv = "argv" in action ? action.argv : [];
      const rule = argv.length > 0 ? ruleFor(argv) : undefined;
      if (rule?.decision === "forbidden") return { type: "forbidden", reason: rule.justification ?? `forbidden by rule ${rule.pattern.join(" ")}` };
      if (rule?.decision === "allow" || grants.has(key(action))) return { type: "skip", unsandboxed: action.kind !== "command" || action.escalated };
      const proposedRule = argv.length > 0 ? { pattern: argv.slice(0, 1), decision: "allow" as const } : undefined;
      const ask = (reason: string): Assessment => ({ type: "needs_approval", reason, promptKind: "sandbox_approval", ...(proposedRule ? { proposedRule } : {}) });
      if (mode === "never" && action.kind === "network") return { type: "forbidden", reason: `network access to ${action.host}:${action.port}: the approval policy is never, so no one can allow it` };
      if (mode === "never") return action.kind === "retry_unsandboxed" || (action.kind === "command" && action.escalated) ? { type: "forbidden", reason: "the approval policy is never: nothing runs outside the sandbox" } : { type: "skip", unsandboxed: false };
      if (mode === "untrusted" && (action.kind === "command" || action.kind === "escalation")) return ask("untrusted: every command is asked");
      if (action.kind === "retry_unsandboxed") return ask(`the sandbox refused it: ${action.failure}`);
      if (action.kind === "command" && action.escalated) return ask(action.justification ?? "the model asked to run outside the sandbox");
      if (action.kind === "file_change" && action.outsideWritableRoots) return ask("the change touches files outside the writable roots");
      if (action.kind === "permissions" || action.kind === "network") return ask(action.kind === "network" ? `network access to ${action.host}` : action.reason);
      return { type: "skip", unsandboxed: ctx.sandbox === "full-access" };
    },
    grantForSession(action) {
      grants.add(key(action));
    },
    async addRule(rule) {
      rules.push(rule);
    },
  };
}
