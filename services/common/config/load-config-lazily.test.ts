import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TetherError } from "../tether-error.js";
import { ENV_KEYS } from "./config-layers.js";
import { ConfigSchema } from "./config-schema.js";
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
