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

const FLAG_INSTEAD: Record<string, string> = {
  "--oss": "tether has no local-provider shortcut: point OPENAI_BASE_URL at your Ollama or LM Studio server (e.g. http://localhost:11434/v1), or add a [model_providers] entry with its base_url",
  "--local-provider": "tether has no local-provider shortcut: point OPENAI_BASE_URL at the server (e.g. http://localhost:11434/v1), or add a [model_providers] entry with its base_url",
  "-i": "tether's turns are text only, it cannot attach an image: describe what it shows, or name its path for a command to read",
  "--image": "tether's turns are text only, it cannot attach an image: describe what it shows, or name its path for a command to read",
  "--full-auto": "Codex dropped it too; tether exec already runs commands in the workspace-write sandbox without asking: leave it out (or -s workspace-write)",
  "--search": "tether has no web search tool",
  "--ignore-user-config": "point TETHER_HOME at another directory (an empty one: no config.toml and no rules)",
  "--ignore-rules": "rules are read from $TETHER_HOME/rules/*.rules: point TETHER_HOME at a directory without them",
  "--remote": "tether's spelling: --agent URL (unix:///path, grpc://host:port, grpcs://host:port) for a tether agent-server",
  "--remote-auth-token-env": "tether's spelling: --agent-token-file FILE (the bearer token for --agent)",
  "--worktree": "tether makes no worktrees: git worktree add DIR, then tether exec -C DIR …",
};

/** What to use instead of a Codex flag tether rejected (`--oss`, `-i`, …), or undefined. */
export function codexFlagInstead(flag: string): string | undefined {
  const name = flag.split("=")[0]!;
  const instead = Object.hasOwn(FLAG_INSTEAD, name) ? FLAG_INSTEAD[name] : undefined;
  return instead === undefined ? undefined : `${name} is a Codex flag tether does not have: ${instead}`;
}

/** What to use instead of Codex's command `word`, or undefined when it is not one tether lacks. */
export function codexCommandInstead(word: string): string | undefined {
  const instead = Object.hasOwn(INSTEAD, word) ? INSTEAD[word] : undefined;
  return instead === undefined ? undefined : `\`${word}\` is a Codex command tether does not have: ${instead}`;
}
