// Policy's verdict on one proposed action (STYLE rule 19: data, not a callback): skip,
// needs approval (reason, kind, proposed rule) or forbidden. Semantics follow Codex so its
// users keep their habits: forbidden rules always win, allow rules skip the prompt and the
// sandbox, `never` turns every prompt into a refusal the model is told about.
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { ApprovalPolicy, ApprovalPolicyMode, Assessment, Authorization, PrefixRuleProposal, PromptKind, ProposedAction, SandboxMode } from "./approval-types.js";
import type { CommandEvaluation, CommandLineCheck, ExecPolicy, RuleMatch } from "./exec-policy.js";
import { commandMightBeDangerous, gitSubcommand, isKnownSafeCommand } from "./known-safe-command.js";
import type { SessionGrants } from "./session-grants.js";

export interface AssessContext {
  approvalPolicy: ApprovalPolicy;
  sandbox: SandboxMode;
  execPolicy: ExecPolicy;
  grants?: SessionGrants;
}

export type EscalationDecision = "run" | "escalate" | "deny";

export function assessAction(action: ProposedAction, ctx: AssessContext): Assessment {
  switch (action.kind) {
    case "command":
      return assessCommand(check(ctx, action.commandLine, action.argv), ctx, {
        escalated: action.escalated,
        line: lineKey(action.commandLine, action.argv),
        ...(action.justification !== undefined ? { justification: action.justification } : {}),
      });
    case "retry_unsandboxed":
      return assessCommand(check(ctx, action.commandLine, action.argv), ctx, {
        escalated: true,
        failure: action.failure,
        line: lineKey(action.commandLine, action.argv),
      });
    case "escalation":
      // Checked as Codex does: the file the shell resolved, not the name it was given.
      return assessCommand(ctx.execPolicy.checkArgv([action.file, ...action.argv.slice(1)]), ctx, {
        escalated: false,
        zshFork: action.file,
        line: JSON.stringify(action.argv),
      });
    case "file_change":
      return assessFileChange(action, ctx);
    case "network":
      return assessNetwork(action.host, action.port, ctx);
    case "permissions":
      return assessPermissions(action, ctx);
  }
}

/** The exec layer's answer to a zsh-fork escalation once policy (and maybe a human) decided. */
export function escalationDecision(outcome: Assessment | Authorization): EscalationDecision {
  if ("allowed" in outcome) return !outcome.allowed ? "deny" : outcome.unsandboxed ? "escalate" : "run";
  if (outcome.type === "forbidden") return "deny";
  if (outcome.type === "skip") return outcome.unsandboxed ? "escalate" : "run";
  throw new TetherError(ErrorCode.FailedPrecondition, "escalationDecision: a needs_approval assessment must be answered first (pass the Authorization)");
}

function modeOf(policy: ApprovalPolicy): ApprovalPolicyMode {
  return typeof policy === "string" ? policy : policy.mode;
}

/**
 * Why `policy` declines a prompt of this kind without asking (never, or granular reject), or
 * undefined when a human may be asked. Exported for prompts that are not ProposedActions
 * (MCP elicitations).
 */
export function promptRejection(policy: ApprovalPolicy, promptKind: PromptKind): string | undefined {
  if (modeOf(policy) === "never") return `not run: the approval policy is "never", so no one can approve it`;
  if (typeof policy === "object" && policy.reject.includes(promptKind)) return `declined: the approval policy rejects ${promptKind} prompts`;
  return undefined;
}

/** A prompt, unless the policy declines that kind of prompt without asking. */
function ask(ctx: AssessContext, reason: string, promptKind: PromptKind, onAccept: { unsandboxed: boolean; rule?: PrefixRuleProposal }): Assessment {
  const rejection = promptRejection(ctx.approvalPolicy, promptKind);
  if (rejection !== undefined) return { type: "forbidden", reason: `${reason}; ${rejection}` };
  return {
    type: "needs_approval",
    reason,
    promptKind,
    unsandboxedOnAccept: onAccept.unsandboxed,
    ...(onAccept.rule !== undefined ? { proposedRule: onAccept.rule } : {}),
  };
}

function check(ctx: AssessContext, commandLine: string, argv: string[]): CommandLineCheck {
  return commandLine !== "" ? ctx.execPolicy.checkCommandLine(commandLine) : ctx.execPolicy.checkArgv(argv);
}

/** How SessionGrants keys a line it could not split (as grantFor does). */
function lineKey(commandLine: string, argv: string[]): string {
  return commandLine !== "" ? commandLine : JSON.stringify(argv);
}

interface CommandOptions {
  line: string;
  /** Run outside the sandbox: the model asked, or a sandboxed run was refused (retry). */
  escalated: boolean;
  justification?: string;
  failure?: string;
  /** The program a zsh-fork shell is about to exec. */
  zshFork?: string;
}

function assessCommand(result: CommandLineCheck, ctx: AssessContext, o: CommandOptions): Assessment {
  const mode = modeOf(ctx.approvalPolicy);
  const fullAccess = ctx.sandbox === "full-access";
  if (result.decision === "forbidden") return { type: "forbidden", reason: forbiddenReason(result.matchedRules) };

  const granted = result.unparseable
    ? (ctx.grants?.coversCommandLine(o.line) ?? false)
    : (ctx.grants?.coversCommands(result.commands.map((c) => c.argv)) ?? false);
  const grantedProgram = o.zshFork !== undefined && (ctx.grants?.coversEscalation(o.zshFork) ?? false);
  if (granted || grantedProgram) {
    return { type: "skip", unsandboxed: grantedProgram || (o.escalated && !fullAccess), reason: "accepted earlier in this session" };
  }

  if (result.unparseable) {
    // Only a rule that asks or forbids can hide in a line no one can split ($(…), loops, `&`);
    // without one, Codex's treatment: the line is one unmatched command, run in the sandbox by
    // mode (asking here declined `echo $(date)` under never, where Codex runs it sandboxed).
    if (ctx.execPolicy.prefixRules.some((r) => r.decision !== "allow")) {
      return ask(ctx, `the command line cannot be checked against the rules (${result.reason ?? "unparseable"})`, "rules", {
        unsandboxed: o.escalated || o.zshFork !== undefined,
      });
    }
    const reason = unparseableReason(mode, fullAccess, o);
    if (reason === undefined) return { type: "skip", unsandboxed: false };
    return ask(ctx, reason, "sandbox_approval", { unsandboxed: o.escalated && !fullAccess });
  }

  // Codex: a prompt rule asks even where the sandbox would do; an amendment cannot lift it.
  const rulePrompts = result.matchedRules.filter((m) => m.decision === "prompt");
  if (rulePrompts.length > 0) {
    const first = rulePrompts[0]!;
    const why = first.justification !== undefined ? `: ${first.justification}` : "";
    return ask(ctx, `rule ${JSON.stringify(first.rule.pattern)} asks before \`${first.matchedPrefix.join(" ")}\`${why}`, "rules", {
      // A zsh-fork exec leaves the sandbox once accepted, unless it is a script of several
      // commands (escalating it would take the unasked ones along).
      unsandboxed: o.escalated || (o.zshFork !== undefined && result.commands.length === 1),
    });
  }

  const allRuleAllowed = result.commands.every((c) => c.evaluation?.decision === "allow");
  if (allRuleAllowed) return { type: "skip", unsandboxed: !fullAccess, reason: "allowed by rule" };

  const unmatched = result.commands.filter((c) => c.evaluation === undefined);
  if (o.failure !== undefined) {
    // A retry without the sandbox: the refusal was the whole line's, so the question is too.
    if (fullAccess) return { type: "skip", unsandboxed: false }; // there was no sandbox to leave
    const rule = unmatched[0] !== undefined ? proposeRule(unmatched[0].argv) : undefined;
    return ask(ctx, `the sandbox refused the command (${o.failure}); run it again without the sandbox?`, "sandbox_approval", {
      unsandboxed: true,
      ...(rule !== undefined ? { rule } : {}),
    });
  }

  // Commands no rule covers: Codex's heuristics by approval mode and sandbox.
  let asking: { argv: string[]; reason: string } | undefined;
  for (const c of unmatched) {
    const reason = unmatchedReason(c, mode, fullAccess, o);
    if (reason !== undefined) {
      asking = { argv: c.argv, reason };
      break;
    }
  }
  if (asking === undefined) {
    return { type: "skip", unsandboxed: false };
  }
  const rule = proposeRule(asking.argv);
  return ask(ctx, asking.reason, "sandbox_approval", {
    unsandboxed: o.escalated && !fullAccess,
    ...(rule !== undefined ? { rule } : {}),
  });
}

/** Why an unmatched simple command must be asked about, or undefined when it may run. */
function unmatchedReason(
  c: CommandEvaluation,
  mode: ApprovalPolicyMode,
  fullAccess: boolean,
  o: CommandOptions,
): string | undefined {
  const argv = c.argv;
  if (mode === "untrusted" && isKnownSafeCommand(argv, c.globs)) return undefined;
  if (commandMightBeDangerous(argv)) return `\`${argv.join(" ")}\` may destroy work`;
  switch (mode) {
    case "never":
    case "on-failure":
      return undefined; // runs in the sandbox; on-failure asks only after a refusal
    case "untrusted":
      return `untrusted mode asks before \`${argv.join(" ")}\` (only known read-only commands run unasked)`;
    case "on-request":
      if (!o.escalated || fullAccess) return undefined;
      return `the model asks to run \`${argv.join(" ")}\` outside the sandbox${o.justification !== undefined ? `: ${o.justification}` : ""}`;
  }
}

/** Why a line that cannot be split must be asked about (no rule could apply), or undefined when it may run. */
function unparseableReason(mode: ApprovalPolicyMode, fullAccess: boolean, o: CommandOptions): string | undefined {
  switch (mode) {
    case "never":
    case "on-failure":
      return undefined;
    case "untrusted":
      return `untrusted mode asks before \`${o.line}\` (a line the shell expands when it runs is never known to be read-only)`;
    case "on-request":
      if (!o.escalated || fullAccess) return undefined;
      return `the model asks to run \`${o.line}\` outside the sandbox${o.justification !== undefined ? `: ${o.justification}` : ""}`;
  }
}

/** Banned like Codex's list: a rule for a bare interpreter or shell would allow anything. */
const TOO_BROAD = new Set([
  "bash", "sh", "zsh", "dash", "fish", "pwsh", "powershell", "python", "python3", "py", "pypy", "pypy3", "node", "deno",
  "bun", "perl", "ruby", "php", "lua", "osascript", "env", "sudo", "doas", "xargs", "exec", "eval", "nohup", "timeout", "nice",
]);

/** "Accept and add a rule": program + subcommand of the command that asked (["git", "push"]). */
export function proposeRule(argv: readonly string[]): PrefixRuleProposal | undefined {
  const program = argv[0];
  if (program === undefined) return undefined;
  const name = program.slice(program.lastIndexOf("/") + 1);
  if (TOO_BROAD.has(name)) return undefined;
  const args = argv.slice(1);
  if (name === "git") {
    // Only `git SUB …`: with global options first (-C dir) the prefix would not match later calls.
    return gitSubcommand(args) === 0 ? { pattern: [program, args[0]!], decision: "allow" } : undefined;
  }
  const sub = args[0];
  const pattern = sub !== undefined && /^[a-z][a-z0-9_-]*$/.test(sub) ? [program, sub] : [program];
  return { pattern, decision: "allow" };
}

function forbiddenReason(matched: RuleMatch[]): string {
  const m = matched.find((r) => r.decision === "forbidden")!;
  const where = `${m.rule.source.file}:${m.rule.source.line}`;
  return `\`${m.matchedPrefix.join(" ")}\` is forbidden by rule ${JSON.stringify(m.rule.pattern)} (${where})${m.justification !== undefined ? `: ${m.justification}` : ""}`;
}

function assessFileChange(action: Extract<ProposedAction, { kind: "file_change" }>, ctx: AssessContext): Assessment {
  const mode = modeOf(ctx.approvalPolicy);
  const outside = action.outsideWritableRoots || ctx.sandbox === "read-only";
  if (ctx.sandbox === "full-access") return { type: "skip", unsandboxed: false };
  if (ctx.grants?.coversPaths(action.paths)) return { type: "skip", unsandboxed: outside, reason: "accepted earlier in this session" };
  const files = action.paths.slice(0, 5).join(", ") + (action.paths.length > 5 ? `, … (${action.paths.length} files)` : "");
  if (mode === "untrusted") return ask(ctx, `untrusted mode asks before changing ${files}`, "sandbox_approval", { unsandboxed: outside });
  if (!outside || mode === "on-failure") return { type: "skip", unsandboxed: false };
  return ask(ctx, `the change writes outside the writable roots: ${files}`, "sandbox_approval", { unsandboxed: true });
}

function assessNetwork(host: string, port: number, ctx: AssessContext): Assessment {
  const rules = ctx.execPolicy.matchingNetworkRules(host);
  const decision = ctx.execPolicy.networkDecision(host);
  const why = rules.find((r) => r.decision === decision)?.justification;
  const target = `${host}:${port}`;
  if (decision === "deny") return { type: "forbidden", reason: `network access to ${target} is denied by a network rule${why !== undefined ? `: ${why}` : ""}` };
  if (decision === "allow") return { type: "skip", unsandboxed: false, reason: "allowed by a network rule" };
  if (ctx.grants?.coversHost(host)) return { type: "skip", unsandboxed: false, reason: "accepted earlier in this session" };
  if (decision === "prompt") return ask(ctx, `a network rule asks before connecting to ${target}${why !== undefined ? `: ${why}` : ""}`, "rules", { unsandboxed: false });
  // Only the sandbox mode allows it, and a settings change may narrow that: not for the session.
  if (ctx.sandbox === "full-access") return { type: "skip", unsandboxed: false, lasting: false };
  return ask(ctx, `a command wants to connect to ${target}`, "sandbox_approval", { unsandboxed: false });
}

function assessPermissions(action: Extract<ProposedAction, { kind: "permissions" }>, ctx: AssessContext): Assessment {
  if (ctx.sandbox === "full-access") return { type: "skip", unsandboxed: false };
  const roots = action.writableRoots ?? [];
  const rootsGranted = roots.length === 0 || (ctx.grants?.coversPaths(roots) ?? false);
  const networkGranted = action.network !== true || (ctx.grants?.coversAllNetwork ?? false);
  if (rootsGranted && networkGranted && (roots.length > 0 || action.network === true)) {
    return { type: "skip", unsandboxed: false, reason: "granted earlier in this session" };
  }
  return ask(ctx, action.reason, "request_permissions", { unsandboxed: false });
}
