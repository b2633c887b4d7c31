import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../services/common/config/load-config.js";
import { readDefaultEnv } from "./default-env.js";

describe("readDefaultEnv", () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "tether-default-env-"));
    await mkdir(join(dir, "home"));
    await mkdir(join(dir, "repo", ".tether"), { recursive: true });
    env = { TETHER_HOME: join(dir, "home") };
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const home = (text: string) => writeFile(join(dir, "home", "config.toml"), text);
  const project = (text: string) => writeFile(join(dir, "repo", ".tether", "config.toml"), text);

  it.each([
    ['default_env = "local"\n', { env: "local" }],
    ["default_env='docker:img' # comment\n", { env: "docker:img" }],
    ['"default_env" = "unix:///s.sock"\n', { env: "unix:///s.sock" }],
    ['model = "x"\n[profiles.a]\ndefault_env = "local"\n', "none"],
    ['default_env = """\nlocal"""\n', "unsure"],
    ['default_env = "a\\tb"\n', "unsure"],
    ['profile = "ci"\ndefault_env = "local"\n', "unsure"],
    ["", "none"],
  ])("reads %j as %j, agreeing with the full loader where it is sure", async (text, expected) => {
    await home(text);
    const found = readDefaultEnv(join(dir, "repo"), env);
    expect(found).toEqual(expected);
    if (typeof found === "object") expect(loadConfig({ cwd: join(dir, "repo"), env }).config.default_env).toBe(found.env);
    if (found === "none") expect(loadConfig({ cwd: join(dir, "repo"), env }).config.default_env).toBeUndefined();
  });

  it("leaves a project's default_env to the full loader (it counts only in a trusted project), takes TETHER_ENV, is unsure under TETHER_PROFILE", async () => {
    await home('default_env = "home"\n');
    await project('default_env = "project"\n');
    expect(readDefaultEnv(join(dir, "repo"), env)).toBe("unsure");
    // A cloned repository cannot point tether run at its own exec server.
    expect(loadConfig({ cwd: join(dir, "repo"), env }).config.default_env).toBe("home");
    await home(`default_env = "home"\n[projects."${join(dir, "repo")}"]\ntrust_level = "trusted"\n`);
    expect(loadConfig({ cwd: join(dir, "repo"), env }).config.default_env).toBe("project");
    await home('default_env = "home"\n');
    await project("# none here\n");
    expect(readDefaultEnv(join(dir, "repo"), env)).toEqual({ env: "home" });
    expect(readDefaultEnv(join(dir, "repo"), { ...env, TETHER_ENV: "local" })).toEqual({ env: "local" });
    expect(readDefaultEnv(join(dir, "repo"), { ...env, TETHER_PROFILE: "x" })).toBe("unsure");
  });
});
