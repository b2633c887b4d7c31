import { describe, expect, it } from "vitest";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import { modelClientOptions } from "./model-client-options.js";
import { ResponsesModelClient } from "./responses-model-client.js";

describe("modelClientOptions", () => {
  it("takes base URL and key variable from the named provider", () => {
    const env = { LOCAL_KEY: "k" };
    const options = modelClientOptions(
      { model_provider: "local", model_providers: { local: { base_url: "http://127.0.0.1:9/v1", env_key: "LOCAL_KEY" } }, model_start_timeout_ms: 500 },
      env,
    );
    expect(options).toEqual({ env, baseURL: "http://127.0.0.1:9/v1", apiKeyEnv: "LOCAL_KEY", startupTimeoutMs: 500 });
    expect(new ResponsesModelClient(options).baseURL).toBe("http://127.0.0.1:9/v1");
  });

  it("falls back to base_url, then to the environment and OpenAI's URL", () => {
    expect(modelClientOptions({ base_url: "http://127.0.0.1:8/v1" }, {}).baseURL).toBe("http://127.0.0.1:8/v1");
    expect(new ResponsesModelClient(modelClientOptions({}, { OPENAI_BASE_URL: "http://127.0.0.1:7/v1/" })).baseURL).toBe("http://127.0.0.1:7/v1");
    expect(new ResponsesModelClient(modelClientOptions({ model_provider: "openai" }, {})).baseURL).toBe("https://api.openai.com/v1");
  });

  it("refuses a provider in use without base_url, saying where to add it (config layers may each hold part of it)", () => {
    expect(() => modelClientOptions({ model_provider: "x", model_providers: { x: { name: "X" } } }, {})).toThrow(/\[model_providers\.x\] has no base_url: add base_url = .*-c model_providers\.x\.base_url=URL/);
  });

  it("names an undefined provider and the defined ones", () => {
    let error: unknown;
    try {
      modelClientOptions({ model_provider: "nope", model_providers: { local: { base_url: "http://127.0.0.1:9/v1" } } }, {});
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TetherError);
    expect((error as TetherError).code).toBe(ErrorCode.InvalidArgument);
    expect((error as TetherError).message).toMatch(/model_provider "nope" is not defined.*\[model_providers\.nope\].*defined: local/);
    expect((error as TetherError).details.usage).toBe("true");
  });
});
