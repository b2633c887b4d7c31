// Which Responses server the agent talks to, from config.toml (already merged and checked):
// a named model_provider, else `base_url` (which OPENAI_BASE_URL also sets), else the
// environment and OpenAI's own URL; the key from the provider's env_key or OPENAI_API_KEY.
import type { TetherConfig } from "../../common/config/config-schema.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { ReasoningSettings } from "./model-client.js";
import type { ResponsesModelClientOptions } from "./responses-model-client.js";

export function modelClientOptions(config: TetherConfig, env: Record<string, string | undefined> = process.env): ResponsesModelClientOptions {
  const options: ResponsesModelClientOptions = { env };
  const name = config.model_provider;
  // "openai" needs no table: it is the default server.
  if (name !== undefined && name !== "openai") {
    const provider = config.model_providers?.[name];
    if (provider === undefined) {
      const known = Object.keys(config.model_providers ?? {});
      throw new TetherError(
        ErrorCode.InvalidArgument,
        `model_provider "${name}" is not defined: add [model_providers.${name}] with a base_url to config.toml${known.length > 0 ? ` (defined: ${known.join(", ")})` : ""}`,
        // A configuration mistake, like the config loader's own errors: the CLI exits 2.
        { details: { usage: "true" } },
      );
    }
    if (provider.base_url === undefined) {
      throw new TetherError(ErrorCode.InvalidArgument, `[model_providers.${name}] has no base_url: add base_url = "https://HOST/v1" to it (in config.toml, or -c model_providers.${name}.base_url=URL)`, {
        details: { usage: "true" },
      });
    }
    options.baseURL = provider.base_url;
    if (provider.env_key !== undefined) options.apiKeyEnv = provider.env_key;
    const headers: Record<string, string> = { ...provider.http_headers };
    for (const [header, variable] of Object.entries(provider.env_http_headers ?? {})) {
      const value = env[variable];
      if (value !== undefined && value !== "") headers[header] = value;
    }
    if (Object.keys(headers).length > 0) options.headers = headers;
    if (provider.query_params !== undefined && Object.keys(provider.query_params).length > 0) options.query = provider.query_params;
    if (provider.request_max_retries !== undefined) options.maxAttempts = provider.request_max_retries + 1;
    if (provider.stream_idle_timeout_ms !== undefined) options.streamIdleTimeoutMs = provider.stream_idle_timeout_ms;
  } else if (config.base_url !== undefined) {
    options.baseURL = config.base_url;
  }
  if (config.model_start_timeout_ms !== undefined) options.startupTimeoutMs = config.model_start_timeout_ms;
  return options;
}

/**
 * The requests' `reasoning` from Codex's keys, or undefined when neither is set (a model that
 * does not reason refuses the parameter). Summary "none" asks for no summary.
 */
export function reasoningFromConfig(config: TetherConfig): ReasoningSettings | undefined {
  const effort = config.model_reasoning_effort;
  const summary = config.model_reasoning_summary;
  if (effort === undefined && summary === undefined) return undefined;
  return { ...(effort === undefined ? {} : { effort }), ...(summary === undefined || summary === "none" ? {} : { summary }) };
}
