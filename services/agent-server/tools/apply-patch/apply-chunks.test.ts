import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../../common/tether-error.js";
import { applyChunks } from "./apply-chunks.js";
import { parsePatch } from "./patch-parser.js";
import { seekSequence } from "./seek-sequence.js";

/** Applies the single Update File hunk of `patchLines` to `original`. */
function apply(original: string, ...patchLines: string[]): string {
  const [hunk] = parsePatch(["*** Begin Patch", "*** Update File: f.txt", ...patchLines, "*** End Patch"].join("\n"));
  if (hunk?.kind !== "update") throw new Error("not an update");
  return applyChunks(original, hunk.chunks, "f.txt");
}

describe("seekSequence", () => {
  const lines = ["alpha", "beta  ", "  gamma", "“quoted” — dash", "end"];
  it("matches exactly, then ignoring trailing whitespace, then all surrounding whitespace, then punctuation", () => {
    expect(seekSequence(lines, ["alpha"], 0, false)).toBe(0);
    expect(seekSequence(lines, ["beta"], 0, false)).toBe(1);
    expect(seekSequence(lines, ["gamma"], 0, false)).toBe(2);
    expect(seekSequence(lines, ['"quoted" - dash'], 0, false)).toBe(3);
    expect(seekSequence(lines, ["delta"], 0, false)).toBeUndefined();
  });
  it("starts at the cursor and honours end of file", () => {
    expect(seekSequence(["x", "y", "x"], ["x"], 1, false)).toBe(2);
    expect(seekSequence(["x", "y", "x"], ["x"], 0, true)).toBe(2);
    expect(seekSequence(["x", "y", "z"], ["x"], 0, true)).toBeUndefined();
    expect(seekSequence(["x"], ["x", "y"], 0, false)).toBeUndefined();
    expect(seekSequence(["x"], [], 1, false)).toBe(1);
  });
});

describe("applyChunks", () => {
  it("replaces lines located by context", () => {
    const src = "def a():\n    pass\n\ndef b():\n    pass\n";
    expect(apply(src, "@@ def b():", "-    pass", "+    return 2")).toBe("def a():\n    pass\n\ndef b():\n    return 2\n");
  });

  it("applies several chunks in order and keeps the rest", () => {
    const src = "1\n2\n3\n4\n5\n6\n7\n8\n";
    expect(apply(src, "@@", " 1", "-2", "+two", "@@", " 6", "-7", "+seven", "+seven-b")).toBe("1\ntwo\n3\n4\n5\n6\nseven\nseven-b\n8\n");
  });

  it("matches despite trailing and surrounding whitespace and typographic punctuation", () => {
    expect(apply("x = 1   \n", "-x = 1", "+x = 2")).toBe("x = 2\n");
    expect(apply("\tindented\n", "-indented", "+changed")).toBe("changed\n");
    expect(apply("say(“hi”)\n", '-say("hi")', '+say("bye")')).toBe('say("bye")\n');
  });

  it("End of File anchors at the end; a pure addition without context appends", () => {
    expect(apply("x\ny\nx\n", "@@", "-x", "+z", "*** End of File")).toBe("x\ny\nz\n");
    expect(apply("a\n", "@@", "+b")).toBe("a\nb\n");
    expect(apply("", "@@", "+first")).toBe("first\n");
  });

  it("a pure addition after a context line goes right after it", () => {
    expect(apply("class A:\n    x = 1\nclass B:\n    y = 2\n", "@@ class B:", "+    z = 3")).toBe("class A:\n    x = 1\nclass B:\n    z = 3\n    y = 2\n");
  });

  it("drops a trailing empty context line that the file does not have", () => {
    expect(apply("a\nb\n", "@@", " a", "-b", "+c", "")).toBe("a\nc\n");
  });

  it("keeps CRLF line endings", () => {
    expect(apply("a\r\nb\r\n", "-b", "+c")).toBe("a\r\nc\r\n");
  });

  it("a chunk that does not match fails naming the file, the patch line and the file line", () => {
    let err: unknown;
    try {
      apply("a\nb\nc\n", "@@", " a", "-b", "+B", "@@", "-nothere", "+x");
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: ErrorCode.FailedPrecondition });
    expect((err as Error).message).toBe("f.txt: the chunk at patch line 7 does not apply: could not find these lines (searched after line 2 of 3):\nnothere");
  });

  it("a missing context line fails with the line searched from", () => {
    expect(() => apply("a\n", "@@ def missing():", "-a", "+b")).toThrow("f.txt: the chunk at patch line 3 does not apply: could not find the context line 'def missing():' (searched the whole file, 1 line)");
  });

  it("chunks must come in file order", () => {
    expect(() => apply("1\n2\n3\n", "@@", "-3", "+x", "@@", "-1", "+y")).toThrow(/patch line 6 does not apply: could not find these lines \(searched after line 3 of 3\)/);
  });
});
