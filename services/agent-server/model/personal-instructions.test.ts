import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadPersonalInstructions } from "./personal-instructions.js";

let home: string;
beforeEach(async () => {
  home = await mkdtemp(path.join(tmpdir(), "tether-personal-"));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

describe("loadPersonalInstructions ($TETHER_HOME/AGENTS.md)", () => {
  it("is empty without the file (or with a directory of that name)", async () => {
    expect(await loadPersonalInstructions(home)).toBe("");
    await mkdir(path.join(home, "AGENTS.md"));
    expect(await loadPersonalInstructions(home)).toBe("");
  });

  it("gives the file under a header naming it", async () => {
    await writeFile(path.join(home, "AGENTS.md"), "Always answer in French.\n");
    expect(await loadPersonalInstructions(home)).toBe(`# Personal instructions from ${path.join(home, "AGENTS.md")}\n\nAlways answer in French.`);
  });

  it("reads at most the cap of a huge file and says how much it left out", async () => {
    await writeFile(path.join(home, "AGENTS.md"), "x".repeat(5 * 1024 * 1024));
    const text = await loadPersonalInstructions(home, 1000);
    expect(text).toContain("x".repeat(1000));
    expect(text).not.toContain("x".repeat(1001));
    expect(text).toMatch(/\[… 5241880 more bytes of .* cut: instructions are capped at 1000 bytes\]/);
  });

  it("reads AGENTS.override.md instead of AGENTS.md when it is there (Codex's ~/.codex/AGENTS.override.md)", async () => {
    await writeFile(path.join(home, "AGENTS.md"), "Always answer in French.\n");
    await writeFile(path.join(home, "AGENTS.override.md"), "This week: answer in German.\n");
    const text = await loadPersonalInstructions(home);
    expect(text).toBe(`# Personal instructions from ${path.join(home, "AGENTS.override.md")}\n\nThis week: answer in German.`);
    expect(text).not.toContain("French");
  });

  it("falls back to AGENTS.md when the override is empty, as Codex does", async () => {
    await writeFile(path.join(home, "AGENTS.md"), "Always answer in French.\n");
    await writeFile(path.join(home, "AGENTS.override.md"), "  \n");
    expect(await loadPersonalInstructions(home)).toContain("Always answer in French.");
  });
});
