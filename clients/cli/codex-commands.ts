// Codex's commands that tether does not have, each with what to do instead: without this a
// Codex user's `tether login` opened the interactive session with the prompt "login".
const INSTEAD: Record<string, string> = {
  login: "tether does not log in: it reads the API key from OPENAI_API_KEY (or the variable env_key of your [model_providers] entry names)",
  logout: "tether stores no credentials: unset OPENAI_API_KEY (or your provider's env_key variable)",
  mcp: "tether does not manage MCP servers (mcp_servers in config.toml is not read)",
  apply: "tether's agent edits the working tree itself: there is no diff to apply (git diff shows what changed)",
  review: 'there is no review preset: tether exec "review the changes against main" (git diff | tether exec "review this diff" sends the diff)',
  sandbox: "run a command in a sandbox with tether run --sandbox read-only|workspace-write --env local -- COMMAND",
  cloud: "tether has no cloud tasks",
  "app-server": "tether's agent server is tether agent-server (gRPC tether.agent.v1, not Codex's app-server protocol)",
  doctor: "tether has no doctor: tether features list shows the effective features, tether execpolicy check the rules",
  update: "tether is updated with the package manager that installed it",
};

/** What to use instead of Codex's command `word`, or undefined when it is not one tether lacks. */
export function codexCommandInstead(word: string): string | undefined {
  const instead = Object.hasOwn(INSTEAD, word) ? INSTEAD[word] : undefined;
  return instead === undefined ? undefined : `\`${word}\` is a Codex command tether does not have: ${instead}`;
}
