// Config, feature flags, completion and usage errors as a user meets them: the real
// `tether` process with its own TETHER_HOME and working directory.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTether } from "../../test/support/tether-cli.js";

let dir: string;
let home: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "tether-cli-config-"));
  home = path.join(dir, "home");
  await mkdir(home);
  env = { ...process.env, TETHER_HOME: home };
  delete env.TETHER_ENV;
  delete env.TETHER_PROFILE;
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("usage errors", () => {
  it.each([
    [["run", "--bogus", "--", "true"], /unknown option '--bogus'/],
    [["exec-server", "--nope"], /unknown option '--nope'/],
    [["exce", "fix it"], /unknown command 'exce': did you mean exec\?/],
    [["frobnicate", "now"], /unknown command 'frobnicate'.*a prompt is one argument: quote it/],
    [["frobnicate"], /the interactive session needs a terminal: for scripts and CI use tether exec "frobnicate"/],
    [["completion", "tcsh"], /completion "tcsh": use bash, zsh or fish/],
    [["completion"], /missing required argument 'shell'/],
    [["features", "list", "--enable", "warp_drive"], /unknown feature "warp_drive"/],
    [["features", "list", "-c", "nonsense"], /must look like key=value/],
    [["features", "list", "-c", 'model_providers.x.wire_api="chat"'], /wire_api: tether speaks only the Responses API .*"chat" is not supported/],
    [["run", "--env", "local", "--shell", "bash", "--", "true"], /--shell "bash" must be one of: direct, zsh-fork/],
    [["run", "--env", "local", "--timeout", "soon", "--", "true"], /--timeout "soon" must be a whole number/],
    [["exec-server", "--max-pids", "many"], /--max-pids "many" must be a whole number/],
  ])("%j exits 2 and says what is wrong", async (args, message) => {
    const r = await runTether(args, { env });
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
  });

  it("exits 0 for --help and --version", async () => {
    expect((await runTether(["--help"], { env })).code).toBe(0);
    expect((await runTether(["--version"], { env })).code).toBe(0);
  });
});

describe("tether run --env from config", () => {
  it("takes default_env from the home config (the lean path reads it without the config loader)", async () => {
    await writeFile(path.join(home, "config.toml"), 'default_env = "local"\n');
    const ok = await runTether(["run", "--", "sh", "-c", "echo from-config"], { env });
    expect(ok.stdout).toBe("from-config\n");
    expect(ok.code).toBe(0);
    // An exec server address goes to the lean client: it really used the configured value.
    await writeFile(path.join(home, "config.toml"), "default_env = 'unix:///tmp/tether-no-such-config-server.sock'\n");
    const lean = await runTether(["run", "--", "true"], { env });
    expect(lean.stderr).toMatch(/cannot reach unix:\/\/\/tmp\/tether-no-such-config-server\.sock/);
    expect(lean.code).toBe(255);
  });

  it("takes it from a profile and from the nearest project file of a trusted project, and --env still wins", async () => {
    await writeFile(path.join(home, "config.toml"), 'profile = "p"\n[profiles.p]\ndefault_env = "local"\n');
    expect((await runTether(["run", "--", "echo", "profile"], { env })).stdout).toBe("profile\n");
    const project = path.join(dir, "proj");
    await mkdir(path.join(project, ".tether"), { recursive: true });
    await mkdir(path.join(project, "sub"), { recursive: true });
    await writeFile(path.join(home, "config.toml"), 'default_env = "unix:///nowhere.sock"\n');
    await writeFile(path.join(project, ".tether", "config.toml"), 'default_env = "local"\n');
    // Not trusted: a cloned repository's file does not choose where commands run.
    const untrusted = await runTether(["run", "--", "pwd"], { env, cwd: path.join(project, "sub") });
    expect(untrusted.code).toBe(255);
    expect(untrusted.stderr).toMatch(/config\.toml is not used: this project is not trusted; to use it add \[projects\./);
    await writeFile(path.join(home, "config.toml"), `default_env = "unix:///nowhere.sock"\n[projects."${project}"]\ntrust_level = "trusted"\n`);
    expect((await runTether(["run", "--", "pwd"], { env, cwd: path.join(project, "sub") })).code).toBe(0);
    const flag = await runTether(["run", "--env", "local", "--", "echo", "flag"], { env });
    expect(flag.stdout).toBe("flag\n");
    await rm(path.join(project, ".tether", "config.toml"));
  });

  it("tether cp takes default_env too", async () => {
    await writeFile(path.join(home, "config.toml"), 'default_env = "local"\n');
    const src = path.join(dir, "cp-src.txt");
    await writeFile(src, "copied\n");
    const cp = await runTether(["cp", src, `:${path.join(dir, "cp-dst.txt")}`], { env });
    expect(cp.code, cp.stderr).toBe(0);
    expect(await readFile(path.join(dir, "cp-dst.txt"), "utf8")).toBe("copied\n");
    await writeFile(path.join(home, "config.toml"), "# nothing\n");
    const none = await runTether(["cp", src, ":/x"], { env });
    expect(none.stderr).toMatch(/no --env given and no default_env in config: pass --env ENV/);
    expect(none.code).toBe(2);
  });

  it("fails with exit 2 when neither --env nor default_env is there, or the config is invalid", async () => {
    await writeFile(path.join(home, "config.toml"), "# nothing\n");
    const none = await runTether(["run", "--", "true"], { env });
    expect(none.stderr).toMatch(/no --env given and no default_env in config: pass --env ENV/);
    expect(none.code).toBe(2);
    await writeFile(path.join(home, "config.toml"), 'profile = "p"\n[profiles.p]\nsandbox_mode = "everything"\n');
    const bad = await runTether(["run", "--", "true"], { env });
    expect(bad.stderr).toContain(`${path.join(home, "config.toml")}: profiles.p.sandbox_mode: Invalid option`);
    expect(bad.code).toBe(2);
  });
});

describe("tether features list", () => {
  it("shows config and flags applied, warns about old names and unknown keys", async () => {
    await writeFile(path.join(home, "config.toml"), "colour = 1\n[features]\nzsh_fork = true\n");
    const r = await runTether(["features", "list", "--disable", "streamable_shell"], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^zsh_fork\s+experimental\s+on/m);
    expect(r.stdout).toMatch(/^unified_exec\s+stable\s+off/m);
    expect(r.stderr).toContain("tether: warning: --disable streamable_shell: feature streamable_shell is now called unified_exec");
    expect(r.stderr).toContain(`tether: warning: ${path.join(home, "config.toml")}: unknown key colour (ignored)`);
  });

  it("refuses a removed feature in config", async () => {
    await writeFile(path.join(home, "config.toml"), "[features]\nweb_search = true\n");
    const r = await runTether(["features", "list"], { env });
    expect(r.stderr).toMatch(/\[features\] web_search: feature web_search was removed/);
    expect(r.code).toBe(2);
  });
});

describe("tether completion", () => {
  it("bash completes subcommands, nested subcommands and each command's flags", async () => {
    const script = (await runTether(["completion", "bash"], { env })).stdout;
    const complete = (line: string) => {
      const words = line.split(" ");
      const out = execFileSync(
        "bash",
        ["-c", `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _tether; printf '%s\\n' "\${COMPREPLY[@]}"`],
        { encoding: "utf8" },
      );
      return out.split("\n").filter(Boolean);
    };
    expect(complete("tether ")).toEqual(expect.arrayContaining(["run", "exec-server", "cp", "features", "completion"]));
    expect(complete("tether ru")).toEqual(["run"]);
    expect(complete("tether run --s")).toEqual(expect.arrayContaining(["--sandbox", "--shell"]));
    expect(complete("tether features ")).toEqual(expect.arrayContaining(["list"]));
    expect(complete("tether features list --en")).toEqual(["--enable"]);
    // A flag's value, where it is one of a few words; and the shell for `completion`.
    expect(complete("tether exec --sandbox ")).toEqual(["read-only", "workspace-write", "full-access"]);
    expect(complete("tether exec -s w")).toEqual(["workspace-write"]);
    expect(complete("tether run --network o")).toEqual(["off", "on"]);
    expect(complete("tether exec --enable ")).toEqual(expect.arrayContaining(["zsh_fork", "apply_patch"]));
    expect(complete("tether completion ")).toEqual(["bash", "zsh", "fish"]);
  });

  it("zsh and fish scripts parse", async () => {
    const zsh = (await runTether(["completion", "zsh"], { env })).stdout;
    expect(zsh).toMatch(/^#compdef tether/);
    expect(spawnSync("zsh", ["-n"], { input: zsh }).status).toBe(0);
    const fish = (await runTether(["completion", "fish"], { env })).stdout;
    expect(fish).toMatch(/complete -c tether -n '__fish_use_subcommand' -a run /);
    expect(fish).toMatch(/complete -c tether -n '__fish_seen_subcommand_from run' -l env -r -F/);
    const hasFish = spawnSync("fish", ["--version"]).status === 0;
    if (hasFish) expect(spawnSync("fish", ["-n"], { input: fish }).status).toBe(0);
  });
});
