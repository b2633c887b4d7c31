// What project instructions make of files a session may not see (a workspace-write sandbox
// hides /tmp outside the cwd, a file rule hides one path) and of an AGENTS.md that is there
// but fails to read, through an environment's file calls and through node:fs alike.
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileAccess, SandboxMode } from "../../../gen/tether/exec/v1/sandbox_pb.js";
import type { Environment } from "../../../clients/environment/environment.js";
import { LocalEnvironment } from "../../../clients/environment/local-environment.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import { localInstructionFiles } from "./local-instruction-files.js";
import { type InstructionFiles, loadProjectInstructions } from "./project-instructions.js";

// Under /tmp itself (not $TMPDIR): the sandbox hides /tmp, and the case is a cwd there.
let scratch: string;
let repo: string;
let cwd: string;
let sandboxed: Environment;
let open: Environment;
// A sysfs file that exists, is readable, and fails every read (EINVAL).
const FAILING = "/sys/class/net/lo/speed";

beforeAll(async () => {
  scratch = await mkdtemp("/tmp/tether-agents-hidden-");
  repo = path.join(scratch, "repo");
  cwd = path.join(repo, "sub");
  await mkdir(path.join(repo, ".git"), { recursive: true });
  await mkdir(cwd, { recursive: true });
  await writeFile(path.join(repo, "AGENTS.md"), "root rules\n");
  await writeFile(path.join(cwd, "AGENTS.md"), "sub rules\n");
  await writeFile(path.join(scratch, "AGENTS.md"), "not the project\n");
  // The session sees only the cwd's subtree under /tmp, and not even the repository root's AGENTS.md.
  sandboxed = await LocalEnvironment.create({
    defaultCwd: cwd,
    defaultSandbox: { mode: SandboxMode.WORKSPACE_WRITE, fileRules: [{ pattern: path.join(repo, "AGENTS.md"), access: FileAccess.NONE }] },
  });
  open = await LocalEnvironment.create({ defaultCwd: scratch });
});
afterAll(async () => {
  await sandboxed?.close();
  await open?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe("project instructions in a session that hides /tmp outside its cwd", () => {
  it("passes over the .git and AGENTS.md files it may not read, without a warning", async () => {
    const got = await loadProjectInstructions(sandboxed.files, cwd);
    // /tmp/.git, the scratch dir's and the repository's .git are hidden: the cwd is its own root.
    expect(got.warnings).toEqual([]);
    expect(got.files).toEqual([path.join(cwd, "AGENTS.md")]);
    expect(got.text).toContain("sub rules");
  });

  it("with node:fs (nothing hidden) gives no warning either, and the repository's files", async () => {
    const got = await loadProjectInstructions(localInstructionFiles, cwd);
    expect(got.warnings).toEqual([]);
    expect(got.files).toEqual([path.join(repo, "AGENTS.md"), path.join(cwd, "AGENTS.md")]);
  });
});

describe.each<[string, () => InstructionFiles]>([
  ["through the environment", () => open.files],
  ["with node:fs", () => localInstructionFiles],
])("project instructions %s", (_how, files) => {
  it("warns about an AGENTS.md that is there but fails to read", async () => {
    expect(existsSync(FAILING), `${FAILING} is the failing file this test reads`).toBe(true);
    const dir = path.join(scratch, `failing-${_how.replaceAll(" ", "-")}`);
    await mkdir(path.join(dir, ".git"), { recursive: true });
    await symlink(FAILING, path.join(dir, "AGENTS.md"));
    const got = await loadProjectInstructions(files(), dir);
    expect(got.warnings).toEqual([expect.stringContaining(`cannot read ${path.join(dir, "AGENTS.md")}`)]);
    expect(got.files).toEqual([]);
  });

  it("passes over what a stat cannot reach (PermissionDenied: a directory it may not search), warns when the stat finds the file", async () => {
    const denied = (p: string) => new TetherError(ErrorCode.PermissionDenied, `${p}: permission denied`);
    const dir = path.join(scratch, `denied-${_how.replaceAll(" ", "-")}`);
    await mkdir(path.join(dir, "a", ".git"), { recursive: true });
    await writeFile(path.join(dir, "a", "AGENTS.md"), "a rules\n");
    await writeFile(path.join(dir, "AGENTS.md"), "above\n");
    const inner = files();
    // Every read of an AGENTS.md is refused; stats are refused above `a` only.
    const refusing = (statAlso: (p: string) => boolean): InstructionFiles => ({
      stat: (p, opts) => (statAlso(p) ? Promise.reject(denied(p)) : inner.stat(p, opts)),
      readFile: (p) => {
        const info = Promise.reject(denied(p));
        info.catch(() => undefined);
        return { info, chunks: (async function* () { yield* []; throw denied(p); })() };
      },
    });
    const hidden = await loadProjectInstructions(refusing((p) => !p.startsWith(path.join(dir, "a"))), path.join(dir, "a"));
    expect(hidden.warnings).toEqual([expect.stringContaining(`cannot read ${path.join(dir, "a", "AGENTS.md")}`)]);
    const all = await loadProjectInstructions(refusing(() => true), path.join(dir, "a"));
    expect(all.warnings).toEqual([]);
  });

  it("passes over an AGENTS.override.md the session may not see, to its directory's AGENTS.md, without a warning", async () => {
    const dir = path.join(scratch, `hidden-override-${_how.replaceAll(" ", "-")}`);
    await mkdir(path.join(dir, ".git"), { recursive: true });
    await writeFile(path.join(dir, "AGENTS.md"), "plain rules\n");
    await writeFile(path.join(dir, "AGENTS.override.md"), "override rules\n");
    const inner = files();
    const override = path.join(dir, "AGENTS.override.md");
    const denied = new TetherError(ErrorCode.PermissionDenied, `${override}: permission denied`);
    // As a file rule hiding one path: its read and its stat are refused.
    const hiding: InstructionFiles = {
      stat: (p, opts) => (p === override ? Promise.reject(denied) : inner.stat(p, opts)),
      readFile: (p, opts) => {
        if (p !== override) return inner.readFile(p, opts);
        const info = Promise.reject(denied);
        info.catch(() => undefined);
        return { info, chunks: (async function* () { yield* []; throw denied; })() };
      },
    };
    const got = await loadProjectInstructions(hiding, dir);
    expect(got.warnings).toEqual([]);
    expect(got.files).toEqual([path.join(dir, "AGENTS.md")]);
    expect(got.text).toContain("plain rules");
    expect((await loadProjectInstructions(inner, dir)).files).toEqual([override]);
  });
});
