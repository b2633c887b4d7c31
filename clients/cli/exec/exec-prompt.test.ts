import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { TetherError } from "../../../services/common/tether-error.js";
import { readPrompt } from "./exec-prompt.js";

const piped = (text: string) => Readable.from([Buffer.from(text)]);
const tty = () => Object.assign(new PassThrough(), { isTTY: true });

describe("readPrompt", () => {
  it("appends piped stdin to a prompt argument in a <stdin> block, as codex exec does", async () => {
    expect(await readPrompt("review this diff", { stdin: piped("--- a/x\n+++ b/x\n\n") })).toBe("review this diff\n\n<stdin>\n--- a/x\n+++ b/x\n</stdin>");
  });

  it("keeps the argument alone when stdin is empty (</dev/null) or a terminal", async () => {
    expect(await readPrompt("go", { stdin: piped("") })).toBe("go");
    expect(await readPrompt("go", { stdin: piped(" \n") })).toBe("go");
    // A terminal is never read: nothing would end it.
    expect(await readPrompt("go", { stdin: tty() })).toBe("go");
  });

  it("reads the prompt from stdin with - or no argument, and refuses an empty one", async () => {
    expect(await readPrompt("-", { stdin: piped("fix it\n") })).toBe("fix it\n");
    expect(await readPrompt(undefined, { stdin: piped("fix it") })).toBe("fix it");
    await expect(readPrompt("-", { stdin: piped("") })).rejects.toThrow(/the prompt read from stdin is empty/);
    await expect(readPrompt(undefined, { stdin: tty() })).rejects.toThrow(/no prompt: tether exec PROMPT/);
    const err = await readPrompt("  ", { stdin: piped("") }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TetherError);
    expect((err as TetherError).details.usage).toBe("true");
  });

  describe("from a descriptor (the process's stdin)", () => {
    const opened: number[] = [];
    const dirs: string[] = [];
    afterEach(() => {
      for (const fd of opened.splice(0)) closeSync(fd);
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    });
    const fdOf = (file: string) => {
      const fd = openSync(file, "r");
      opened.push(fd);
      return fd;
    };
    const fileWith = (text: string | Buffer) => {
      const dir = mkdtempSync(join(tmpdir(), "tether-prompt-"));
      dirs.push(dir);
      writeFileSync(join(dir, "task.md"), text);
      return join(dir, "task.md");
    };

    it("reads /dev/null as empty: the argument alone, or no prompt", async () => {
      expect(await readPrompt("go", { stdinFd: fdOf("/dev/null") })).toBe("go");
      await expect(readPrompt(undefined, { stdinFd: fdOf("/dev/null") })).rejects.toThrow(/the prompt read from stdin is empty/);
    });

    it("reads a regular file (< task.md) from its current offset, as the stream did", async () => {
      expect(await readPrompt("review", { stdinFd: fdOf(fileWith("the diff\n")) })).toBe("review\n\n<stdin>\nthe diff\n</stdin>");
      const fd = fdOf(fileWith("skip:fix it"));
      readSync(fd, Buffer.alloc(5), 0, 5, null);
      expect(await readPrompt("-", { stdinFd: fd })).toBe("fix it");
    });

    it("refuses a file larger than the cap", async () => {
      const err = await readPrompt("-", { stdinFd: fdOf(fileWith(Buffer.alloc((4 << 20) + 1, 0x61))) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TetherError);
      expect((err as TetherError).message).toMatch(/larger than 4 MiB/);
      expect((err as TetherError).details.usage).toBe("true");
    });
  });
});
