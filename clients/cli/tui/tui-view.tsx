// The whole screen of the interactive session, from data alone (STYLE rule 21): finished
// entries are printed once above (Ink's Static, so they scroll into the terminal's own
// history), then what is still changing, the plan, an approval question, the spinner and the
// prompt. Width comes from the terminal, so a resize re-flows it.
import { Box, Static, Text } from "ink";
import type { ApprovalDecisionType, ApprovalRequest } from "../../../services/agent-server/policy/approval-types.js";
import { EntryView } from "./entry-view.js";
import type { PromptState } from "./prompt-state.js";
import type { Phase, TuiState } from "./tui-state.js";

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** The single keys that answer an approval, in the order they are offered. */
export const APPROVAL_KEYS: { key: string; decision: ApprovalDecisionType; label: string }[] = [
  { key: "y", decision: "accept", label: "yes" },
  { key: "a", decision: "accept_for_session", label: "yes, this session" },
  { key: "r", decision: "accept_with_rule", label: "yes, and add a rule" },
  { key: "n", decision: "decline", label: "no" },
  { key: "c", decision: "cancel", label: "no, and stop" },
];

const PHASE_LABEL: Record<Phase, string> = { thinking: "thinking", responding: "answering", command: "running a command", approval: "waiting for your answer" };

function describeAction(request: ApprovalRequest): string {
  const a = request.action;
  switch (a.kind) {
    case "command":
    case "retry_unsandboxed":
      return `run ${a.commandLine}${a.kind === "retry_unsandboxed" ? " without the sandbox" : ""}`;
    case "file_change":
      return `change ${a.paths.join(", ")}`;
    case "escalation":
      return `run ${a.argv.join(" ")} outside the sandbox`;
    case "network":
      return `connect to ${a.host}:${a.port}`;
    case "permissions":
      return `get more permissions: ${a.reason}`;
  }
}

export function ApprovalPrompt({ request }: { request: ApprovalRequest }) {
  const network = request.action.kind === "network" ? request.action : undefined;
  // A network request's rule is implied by its host (network_rule(host=…, decision="allow")).
  const keys = APPROVAL_KEYS.filter((k) => request.availableDecisions.includes(k.decision) && (k.decision !== "accept_with_rule" || request.proposedRule || network));
  return (
    <Box flexDirection="column" borderStyle="round" borderColor="yellow" paddingX={1}>
      <Text bold>{`Allow the agent to ${describeAction(request)}?`}</Text>
      <Text dimColor>{`${request.reason}${request.action.kind === "command" ? ` · in ${request.action.cwd}` : ""}`}</Text>
      {/* A running process asks (maybe a background one from an earlier call): which one. */}
      {request.command !== undefined && request.action.kind !== "command" && <Text dimColor>{`asked by: ${request.command}`}</Text>}
      {request.proposedRule && <Text dimColor>{`rule: ${request.proposedRule.pattern.join(" ")} → ${request.proposedRule.decision}`}</Text>}
      {network && request.availableDecisions.includes("accept_with_rule") && <Text dimColor>{`rule: network host ${network.host} → allow`}</Text>}
      <Text>
        {keys.map((k) => (
          <Text key={k.key}>
            <Text color="yellow" bold>{`[${k.key}]`}</Text>
            {` ${k.label}   `}
          </Text>
        ))}
      </Text>
    </Box>
  );
}

export function PlanView({ plan }: { plan: NonNullable<TuiState["plan"]> }) {
  return (
    <Box flexDirection="column" marginTop={1}>
      <Text bold>{plan.explanation ? `Plan: ${plan.explanation}` : "Plan"}</Text>
      {plan.steps.map((s, i) => (
        <Text key={i} color={s.status === "completed" ? "green" : s.status === "in_progress" ? "yellow" : undefined} dimColor={s.status === "pending"}>
          {`${s.status === "completed" ? "[x]" : s.status === "in_progress" ? "[>]" : "[ ]"} ${s.step}`}
        </Text>
      ))}
    </Box>
  );
}

export function StatusLine({ state, now, hint }: { state: TuiState; now: number; hint?: string }) {
  if (state.turn) {
    const seconds = Math.max(0, Math.floor((now - state.turn.startedAt) / 1000));
    const frame = SPINNER[Math.floor(now / 100) % SPINNER.length];
    return (
      <Text>
        <Text color="cyan">{`${frame} ${PHASE_LABEL[state.turn.phase]}`}</Text>
        <Text dimColor>{` · ${seconds}s · ${hint ?? "Ctrl-C to interrupt"}`}</Text>
      </Text>
    );
  }
  const t = state.thread;
  const tokens = state.usage.inputTokens + state.usage.outputTokens;
  return <Text dimColor>{hint ?? (t ? `${t.model} · ${t.environment} · ${t.sandbox} · ${tokens} tokens · /help for commands` : "starting…")}</Text>;
}

export function PromptBox({ prompt, width, active }: { prompt: PromptState; width: number; active: boolean }) {
  const lines = prompt.text.split("\n");
  return (
    <Box flexDirection="column" borderStyle="round" borderColor={active ? "cyan" : "gray"} width={Math.max(20, width)} paddingX={1}>
      {lines.map((line, i) => (
        <Text key={i}>
          <Text color="cyan">{i === 0 ? "› " : "  "}</Text>
          {line}
          {i === lines.length - 1 && active ? <Text inverse> </Text> : null}
        </Text>
      ))}
    </Box>
  );
}

export interface TuiViewProps {
  state: TuiState;
  prompt: PromptState;
  now: number;
  width: number;
  hint?: string;
}

export function TuiView({ state, prompt, now, width, hint }: TuiViewProps) {
  const asking = state.pending[0];
  return (
    <Box flexDirection="column">
      <Static key={state.finishedEpoch} items={state.finished}>
        {(entry) => (
          <Box key={entry.id} width={width}>
            <EntryView entry={entry} />
          </Box>
        )}
      </Static>
      {state.live.map((entry) => (
        <Box key={entry.id} width={width}>
          <EntryView entry={entry} />
        </Box>
      ))}
      {state.plan && <PlanView plan={state.plan} />}
      {asking && <ApprovalPrompt request={asking} />}
      <Box marginTop={1}>
        <StatusLine state={state} now={now} hint={hint} />
      </Box>
      <PromptBox prompt={prompt} width={width} active={!asking} />
    </Box>
  );
}
