import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TetherError } from "../tether-error.js";
import { ENV_KEYS, parseTomlFile } from "./config-layers.js";
import { QUICK_CONFIG_KEYS } from "./config-quick-check.js";
import { ConfigSchema } from "./config-schema.js";
import { APPROVAL_POLICIES, LOG_LEVELS, REASONING_EFFORTS, REASONING_SUMMARIES } from "./config-values.js";
import { loadConfig } from "./load-config.js";
import { loadConfigLazily, quickCheckLayer } from "./load-config-lazily.js";

/** What either loader gives, or the error it throws (message and code). */
async function outcome(load: () => unknown): Promise<unknown> {
  try {
    return await load();
  } catch (err) {
    const te = TetherError.from(err);
    return { error: te.message, code: te.code };
  }
}

const VALUES = ["", " ", "x", "gpt-5.5", "local", "read-only", "danger-full-access", "full-access", "workspace-write", "never", "on-request", "debug", "info", "unix:///a.sock",
  "grpc://h:1", "http://127.0.0.1:8080/v1", "https://api.example.com/v1", "http://", "http:x", "https:/p", "ftp://h/", " http://h/", "http://h/ x", "http://[::1]:9/v1", "http://exa\tmple.com"];

/** Config trees near the schema's shape: every key and value kind, valid and not, some unknown keys. */
const STRINGS = [...VALUES, ...REASONING_EFFORTS, ...REASONING_SUMMARIES, ...LOG_LEVELS, ...APPROVAL_POLICIES, "responses", "chat", "OPENAI_API_KEY", "1KEY", "MY KEY", "grpcs://h:2"];
const scalar = fc.oneof(
  fc.constantFrom(...STRINGS),
  fc.string(),
  fc.webUrl(),
  fc.boolean(),
  fc.constantFrom(0, 1, -1, 0.5, 86_400_000, 86_400_001, 100_000, 100_001, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY),
  fc.integer(),
  fc.date({ noInvalidDate: true }),
);
/** Mostly what the key takes, sometimes anything. */
const near = (valid: fc.Arbitrary<unknown>) => fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: scalar });
/** A table of up to 4 of these keys, now and then with an unknown key, or not a table at all. */
const table = (shape: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> => {
  const some = fc.subarray(Object.keys(shape), { maxLength: Math.min(4, Object.keys(shape).length) }).chain((keys) => fc.record(Object.fromEntries(keys.map((k) => [k, shape[k]!]))));
  return fc.oneof(
    { weight: 8, arbitrary: some },
    { weight: 1, arbitrary: fc.tuple(some, fc.constantFrom("bogus", "toString", "__proto__"), scalar).map(([t, k, v]) => ({ ...t, [k]: v })) },
    { weight: 1, arbitrary: scalar },
  );
};
const nonEmpty = fc.string({ minLength: 1 });
const enumOf = (values: readonly string[]) => near(fc.constantFrom(...values));
const settings: Record<string, fc.Arbitrary<unknown>> = {
  model: near(nonEmpty),
  model_provider: near(nonEmpty),
  base_url: near(fc.oneof(fc.webUrl(), fc.constantFrom(...VALUES))),
  model_reasoning_effort: enumOf(REASONING_EFFORTS),
  model_reasoning_summary: enumOf(REASONING_SUMMARIES),
  approval_policy: enumOf(APPROVAL_POLICIES),
  sandbox_mode: enumOf(["read-only", "workspace-write", "full-access", "danger-full-access", "Read-only"]),
  sandbox_workspace_write: table({ writable_roots: near(fc.array(fc.oneof(nonEmpty, fc.constant("")), { maxLength: 3 })), network_access: near(fc.boolean()) }),
  default_env: near(nonEmpty),
  agent: near(fc.constantFrom("unix:///a.sock", "grpc://h:1", "grpcs://h:2", "http://h", "unix:/x")),
  features: near(fc.dictionary(fc.string(), fc.oneof(fc.boolean(), scalar), { maxKeys: 3 })),
  log_level: enumOf(LOG_LEVELS),
  model_start_timeout_ms: near(fc.integer()),
  exec_detached_ttl_ms: near(fc.oneof(fc.integer(), fc.constantFrom(86_400_000, 86_400_001))),
  agent_idle_thread_ttl_ms: near(fc.integer()),
  history: table({ max_entries: near(fc.oneof(fc.integer({ min: -2, max: 100_002 }), fc.constantFrom(100_000, 100_001))) }),
  // Around the cap of 16 names, with blank and non-string entries.
  project_doc_fallback_filenames: near(fc.oneof(fc.array(fc.oneof(fc.constantFrom("CLAUDE.md", ".agents.md", ""), fc.string(), scalar), { maxLength: 3 }), fc.array(fc.constantFrom("CLAUDE.md", ""), { minLength: 15, maxLength: 17 }))),
  // Around the cap of 64 words, with empty and non-string entries.
  notify: near(fc.oneof(fc.array(fc.oneof(fc.constantFrom("notify-send", "--flag", ""), fc.string(), scalar), { maxLength: 3 }), fc.array(fc.constantFrom("x", ""), { minLength: 63, maxLength: 65 }))),
};
const configTree = table({
  ...settings,
  model_providers: near(fc.dictionary(fc.string({ maxLength: 4 }), table({ name: scalar, base_url: near(fc.webUrl()), env_key: near(fc.constantFrom("OPENAI_API_KEY", "_K1", "1KEY", "MY KEY", "")), wire_api: enumOf(["responses", "chat"]) }), { maxKeys: 2 })),
  profile: near(nonEmpty),
  profiles: near(fc.dictionary(fc.string({ maxLength: 4 }), table(settings), { maxKeys: 2 })),
});

describe("quickCheckLayer", () => {
  it("accepts no config tree that the schema rejects or warns about (and accepts many)", () => {
    let accepted = 0;
    fc.assert(
      fc.property(configTree, (tree) => {
        let quick = true;
        try {
          quickCheckLayer({ source: "T", data: tree as Record<string, unknown> });
        } catch {
          quick = false;
        }
        if (!quick) return;
        accepted++;
        expect(ConfigSchema.safeParse(tree).success, JSON.stringify(tree)).toBe(true);
      }),
      { numRuns: 5000 },
    );
    expect(accepted).toBeGreaterThan(250);
  });

  it("knows every key of the schema (a key it does not know always goes to zod: slower, never wrong)", () => {
    expect(Object.keys(QUICK_CONFIG_KEYS).sort()).toEqual(Object.keys(ConfigSchema.shape).sort());
  });

  it("accepts a typical config.toml as it is", () => {
    const file = `model = "gpt-5.5"
model_provider = "local"
approval_policy = "on-request"
sandbox_mode = "danger-full-access"
model_reasoning_effort = "medium"
notify = ["notify-send", "--app-name=tether"]
[model_providers.local]
name = "Local"
base_url = "http://127.0.0.1:8080/v1"
env_key = "LOCAL_KEY"
[features]
plan_tool = true
[sandbox_workspace_write]
writable_roots = ["/tmp"]
network_access = false
[history]
max_entries = 1000
[profiles.fast]
model = "gpt-5.5-mini"
model_reasoning_effort = "low"
`;
    const data = parseTomlFile("config.toml", file);
    expect(quickCheckLayer({ source: "config.toml", data })).toBe(data);
    expect(() => quickCheckLayer({ source: "config.toml", data: { ...data, bogus: 1 } })).toThrow();
  });
});

describe("loadConfigLazily", () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "tether-config-lazy-"));
    await mkdir(join(dir, "home"));
    await mkdir(join(dir, "repo"));
    env = { TETHER_HOME: join(dir, "home") };
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("accepts no value of an environment variable that the schema rejects", () => {
    const keys = Object.values(ENV_KEYS);
    fc.assert(
      fc.property(fc.constantFrom(...keys), fc.oneof(fc.constantFrom(...VALUES), fc.string(), fc.webUrl()), (key, value) => {
        let quick = true;
        try {
          quickCheckLayer({ source: "T", data: { [key]: value } });
        } catch {
          quick = false;
        }
        if (quick) expect(ConfigSchema.safeParse({ [key]: value }).success).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it("gives what loadConfig gives for environment variables alone, errors included", async () => {
    const names = Object.keys(ENV_KEYS);
    for (const name of names) {
      for (const value of VALUES) {
        const e = { ...env, [name]: value, OPENAI_BASE_URL: name === "OPENAI_BASE_URL" ? value : "http://127.0.0.1:1/v1" };
        const options = { cwd: join(dir, "repo"), env: e };
        expect(await outcome(() => loadConfigLazily(options)), `${name}=${JSON.stringify(value)}`).toEqual(await outcome(() => loadConfig(options)));
      }
    }
  });

  it("gives what loadConfig gives for a profile that is not defined, -c, and files (unknown keys, file:line:col)", async () => {
    const cwd = join(dir, "repo");
    const cases: { options: Parameters<typeof loadConfig>[0]; file?: string }[] = [
      { options: { cwd, env, profile: "ci" } },
      { options: { cwd, env, overrides: ["model=\"m\"", "bogus=1"] } },
      { options: { cwd, env: { ...env, TETHER_SANDBOX: "bogus" } } },
      { options: { cwd, env }, file: 'model = "m"\nbogus = 1\n[profiles.ci]\nmodel = "n"\n' },
      { options: { cwd, env, profile: "ci" }, file: 'model = "m"\n[profiles.ci]\nmodel = "n"\n' },
      { options: { cwd, env }, file: 'model = "m"\nmodel = = 2\n' },
      { options: { cwd, env }, file: 'sandbox_mode = "nope"\n' },
      { options: { cwd, env }, file: 'model = "m"\nsandbox_mode = "danger-full-access"\n[features]\nplan_tool = false\n[model_providers.p]\nbase_url = "http://h/v1"\n' },
      { options: { cwd, env, profile: "ci" }, file: 'model = "m"\n[profiles.ci]\nmodel = "n"\napproval_policy = "never"\n' },
      { options: { cwd, env }, file: '[model_providers.p]\nname = "no url"\n' },
      { options: { cwd, env }, file: 'exec_detached_ttl_ms = 86400001\n' },
      { options: { cwd, env: { ...env, TETHER_MODEL: "x" }, overrides: ["model=y"] }, file: 'model = "m"\n' },
    ];
    for (const { options, file } of cases) {
      if (file !== undefined) await writeFile(join(dir, "home", "config.toml"), file);
      const lazy = await outcome(() => loadConfigLazily(options));
      expect(lazy, JSON.stringify({ options, file })).toEqual(await outcome(() => loadConfig(options)));
      await rm(join(dir, "home", "config.toml"), { force: true });
    }
    await writeFile(join(dir, "home", "config.toml"), "model = = 2\n");
    expect(await outcome(() => loadConfigLazily({ cwd, env }))).toMatchObject({ error: expect.stringMatching(/config\.toml:1:\d+/) });
    await writeFile(join(dir, "home", "config.toml"), "bogus = 1\n");
    expect(((await loadConfigLazily({ cwd, env })) as { warnings: string[] }).warnings).toEqual([`${join(dir, "home", "config.toml")}: unknown key bogus (ignored)`]);
  });
});
