// The agent commands' defaults, apart from agent-options.ts: the session (agent-session.ts)
// needs them on `tether exec`'s lean path, which must not load commander.
export const DEFAULT_MODEL = "gpt-5.5";
export const DEFAULT_SANDBOX = "workspace-write";
