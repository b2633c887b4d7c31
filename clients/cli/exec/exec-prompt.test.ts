import { PassThrough, Readable } from "node:stream";
import { describe, expect, it } from "vitest";
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
});
