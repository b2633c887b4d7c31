import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Environment } from "../../../clients/environment/environment.js";
import { LocalEnvironment } from "../../../clients/environment/local-environment.js";
import { localInstructionFiles } from "./local-instruction-files.js";
import { type InstructionFiles, loadProjectInstructions } from "./project-instructions.js";

let scratch: string;
let env: Environment;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), "tether-agents-md-"));
  env = await LocalEnvironment.create({ defaultCwd: scratch });
});
afterAll(async () => {
  await env?.close();
  await rm(scratch, { recursive: true, force: true });
});

/** Makes a fresh tree under the scratch dir from { relative path: content } (null: a directory). */
async function tree(name: string, files: Record<string, string | null>): Promise<string> {
  const root = path.join(scratch, name);
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(root, rel);
    if (content === null) {
      await mkdir(p, { recursive: true });
    } else {
      await mkdir(path.dirname(p), { recursive: true });
      await writeFile(p, content);
    }
  }
  await mkdir(root, { recursive: true });
  return root;
}

// The same cases through a local environment's file calls and through node:fs (what a lazily
// opened local thread environment uses): the results must be the same.
describe.each<[string, () => InstructionFiles]>([
  ["through the environment", () => env.files],
  ["with node:fs", () => localInstructionFiles],
])("loadProjectInstructions %s", (_how, files) => {
  it("joins AGENTS.md files from the repository root down to the cwd, root first, each under a header", async () => {
    const root = await tree("repo", {
      ".git": null,
      "AGENTS.md": "Use pnpm.\n",
      "pkg/AGENTS.md": "Tests live beside the code.\n",
      "pkg/src/deep/file.ts": "",
    });
    const cwd = path.join(root, "pkg/src/deep");
    const got = await loadProjectInstructions(files(), cwd);
    expect(got.files).toEqual([path.join(root, "AGENTS.md"), path.join(root, "pkg/AGENTS.md")]);
    expect(got.text).toBe(
      `# Project instructions from ${root}/AGENTS.md\n\nUse pnpm.\n\n# Project instructions from ${root}/pkg/AGENTS.md\n\nTests live beside the code.`,
    );
    expect(got.omittedBytes).toBe(0);
    expect(got.warnings).toEqual([]);
  });

  it("reads only the cwd's file when no ancestor holds .git", async () => {
    const root = await tree("plain", { "AGENTS.md": "outer\n", "inner/AGENTS.md": "inner\n" });
    const got = await loadProjectInstructions(files(), path.join(root, "inner"));
    expect(got.files).toEqual([path.join(root, "inner/AGENTS.md")]);
    expect(got.text).toContain("inner");
    expect(got.text).not.toContain("outer");
  });

  it("takes a .git file (a worktree) as the root too", async () => {
    const root = await tree("worktree", { ".git": "gitdir: /elsewhere\n", "AGENTS.md": "root rules\n", "a/b": null });
    const got = await loadProjectInstructions(files(), path.join(root, "a/b"));
    expect(got.files).toEqual([path.join(root, "AGENTS.md")]);
  });

  it("passes over an AGENTS.md that is a directory, without a warning", async () => {
    const root = await tree("agents-dir", { ".git": null, "AGENTS.md/notes": "not instructions\n", "sub/AGENTS.md": "sub rules\n" });
    const got = await loadProjectInstructions(files(), path.join(root, "sub"));
    expect(got.files).toEqual([path.join(root, "sub/AGENTS.md")]);
    expect(got.warnings).toEqual([]);
  });

  it("gives empty text when there is no AGENTS.md", async () => {
    const root = await tree("none", { ".git": null, "x": null });
    expect(await loadProjectInstructions(files(), path.join(root, "x"))).toEqual({ text: "", files: [], omittedBytes: 0, warnings: [] });
  });

  it("caps the total in bytes, cuts the file that overflows with a marker, and says what it left out", async () => {
    const root = await tree("big", {
      ".git": null,
      "AGENTS.md": "a".repeat(20_000),
      "one/AGENTS.md": "b".repeat(20_000),
      "one/two/AGENTS.md": "c".repeat(100),
    });
    const got = await loadProjectInstructions(files(), path.join(root, "one/two"), { maxBytes: 32 * 1024 });
    const kept = 32 * 1024 - 20_000;
    expect(got.text).toContain("a".repeat(20_000));
    expect(got.text).toContain(`${"b".repeat(kept)}\n\n[… ${20_000 - kept} more bytes of ${root}/one/AGENTS.md cut: project instructions are capped at 32768 bytes]`);
    expect(got.text).not.toContain("b".repeat(kept + 1));
    expect(got.text).not.toContain("ccc");
    expect(got.text).toMatch(/\[… 1 more instruction file\(s\) nearer the cwd left out/);
    expect(got.omittedBytes).toBe(20_000 - kept + 100);
  });

  it("reads AGENTS.override.md instead of AGENTS.md in its directory, and only there", async () => {
    const root = await tree("override", {
      ".git": null,
      "AGENTS.md": "root rules\n",
      "AGENTS.override.md": "root override\n",
      "pkg/AGENTS.md": "pkg rules\n",
    });
    const got = await loadProjectInstructions(files(), path.join(root, "pkg"));
    expect(got.files).toEqual([path.join(root, "AGENTS.override.md"), path.join(root, "pkg/AGENTS.md")]);
    expect(got.text).toBe(`# Project instructions from ${root}/AGENTS.override.md\n\nroot override\n\n# Project instructions from ${root}/pkg/AGENTS.md\n\npkg rules`);
  });

  it("lets an empty AGENTS.override.md silence its directory's AGENTS.md (Codex reads the first file there, empty or not)", async () => {
    const root = await tree("override-empty", { ".git": null, "AGENTS.md": "root rules\n", "AGENTS.override.md": "" });
    const got = await loadProjectInstructions(files(), root);
    expect(got.files).toEqual([path.join(root, "AGENTS.override.md")]);
    expect(got.text).toBe("");
  });

  it("tries project_doc_fallback_filenames, in their order, only where a directory has neither AGENTS.override.md nor AGENTS.md", async () => {
    const root = await tree("fallback", {
      ".git": null,
      "AGENTS.md": "root rules\n",
      "CLAUDE.md": "root claude\n",
      "a/CLAUDE.md": "a claude\n",
      "a/.agents.md": "a dot-agents\n",
      "a/b/.agents.md": "b dot-agents\n",
      "a/b/c/AGENTS.override.md": "c override\n",
      "a/b/c/CLAUDE.md": "c claude\n",
    });
    const cwd = path.join(root, "a/b/c");
    const got = await loadProjectInstructions(files(), cwd, { fallbackFileNames: ["", "CLAUDE.md", ".agents.md", "AGENTS.md", "CLAUDE.md"] });
    expect(got.files).toEqual([path.join(root, "AGENTS.md"), path.join(root, "a/CLAUDE.md"), path.join(root, "a/b/.agents.md"), path.join(root, "a/b/c/AGENTS.override.md")]);
    expect(got.text).not.toMatch(/root claude|a dot-agents|c claude/);
    const reversed = await loadProjectInstructions(files(), cwd, { fallbackFileNames: [".agents.md", "CLAUDE.md"] });
    expect(reversed.files[1]).toBe(path.join(root, "a/.agents.md"));
    // Without the key, only the two names of its own.
    expect((await loadProjectInstructions(files(), cwd)).files).toEqual([path.join(root, "AGENTS.md"), path.join(root, "a/b/c/AGENTS.override.md")]);
  });

  it("never cuts a UTF-8 character in half", async () => {
    const root = await tree("utf8", { ".git": null, "AGENTS.md": "é".repeat(100) });
    const got = await loadProjectInstructions(files(), root, { maxBytes: 51 });
    expect(got.text).toContain("é".repeat(25) + "\n");
    expect(got.text).not.toContain("\uFFFD");
    expect(got.omittedBytes).toBe(200 - 50);
  });
});

// Over a remote environment each call is a round trip: every call goes out before any is answered.
describe("loadProjectInstructions' round trips", () => {
  it("sends every stat and every read at once (one round), and still reads only the chain below the root", async () => {
    const root = await tree("rounds", { "AGENTS.md": "above the repo", "repo/.git": null, "repo/AGENTS.md": "root", "repo/a/AGENTS.md": "a", "repo/a/b/AGENTS.md": "b" });
    const cwd = path.join(root, "repo", "a", "b");
    let calls = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const files: InstructionFiles = {
      stat: async (p, opts) => {
        calls++;
        await held;
        return localInstructionFiles.stat(p, opts);
      },
      readFile: (p, opts) => {
        calls++;
        const inner = localInstructionFiles.readFile(p, opts);
        const info = held.then(() => inner.info);
        info.catch(() => undefined); // a missing file's: the reader sees its error in the chunks
        return {
          info,
          chunks: (async function* () {
            await held;
            yield* inner.chunks;
          })(),
        };
      },
    };
    const loading = loadProjectInstructions(files, cwd, { fallbackFileNames: ["CLAUDE.md"] });
    const dirs = cwd.split("/").length; // "/" and each component
    // Per directory a .git stat and a read of AGENTS.override.md, AGENTS.md and CLAUDE.md, none answered yet.
    await expect.poll(() => calls).toBe(4 * dirs);
    release();
    const result = await loading;
    expect(calls).toBe(4 * dirs);
    expect(result.files).toEqual(["repo", "repo/a", "repo/a/b"].map((d) => path.join(root, d, "AGENTS.md")));
    expect(result.text).not.toContain("above the repo");
  });
});
