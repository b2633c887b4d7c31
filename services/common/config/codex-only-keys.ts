// Keys of Codex's config.toml that tether does not use. A Codex user's file holds a dozen of
// them; one warning line lists them, so a misspelt key of tether's own (a line of its own)
// is not lost among them.
const TOP = new Set([
  "model_verbosity", "hide_agent_reasoning", "show_raw_agent_reasoning", "file_opener",
  "disable_response_storage", "preferred_auth_method", "forced_login_method",
  "forced_chatgpt_workspace_id", "cli_auth_credentials_store", "mcp_oauth_credentials_store", "mcp_servers", "tui",
  "model_context_window", "model_max_output_tokens", "model_auto_compact_token_limit", "model_supports_reasoning_summaries",
  "model_reasoning_summary_format", "model_family", "chatgpt_base_url", "tools", "web_search", "windows_wsl_setup_acknowledged",
  "instructions", "developer_instructions", "base_instructions", "compact_prompt", "review_model", "otel", "approvals_reviewer",
  "zsh_path", "oss_provider", "check_for_update_on_startup", "include_plan_tool", "include_apply_patch_tool",
  "include_view_image_tool", "suppress_unstable_features_warning", "notice", "trust_level", "sandbox_permissions", "plugins",
  "skills", "hooks", "agents", "analytics", "feedback", "audio", "realtime", "model_instructions_file",
]);
const NESTED = new Set([
  "history.persistence", "history.max_bytes", "sandbox_workspace_write.exclude_tmpdir_env_var",
  "sandbox_workspace_write.exclude_slash_tmp",
]);
const PROVIDER = new Set(["stream_max_retries", "requires_openai_auth", "env_key_instructions", "experimental_bearer_token", "supports_websockets", "websocket_connect_timeout_ms"]);

/** Whether the unknown key at `path` is one of Codex's (its profiles' and providers' too). */
export function isCodexOnlyKey(path: readonly (string | number | symbol)[]): boolean {
  let parts = path.map(String);
  if (parts[0] === "profiles" && parts.length > 2) parts = parts.slice(2);
  if (parts[0] === "model_providers" && parts.length === 3) return PROVIDER.has(parts[2]!) || parts[2]!.startsWith("experimental_");
  if (parts.length === 1) return TOP.has(parts[0]!) || parts[0]!.startsWith("experimental_");
  return NESTED.has(parts.join("."));
}
