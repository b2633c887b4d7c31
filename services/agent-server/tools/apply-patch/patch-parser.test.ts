import { describe, expect, it } from "vitest";
import { ErrorCode, TetherError } from "../../../common/tether-error.js";
import { parsePatch } from "./patch-parser.js";

const p = (...lines: string[]) => lines.join("\n");

function parseError(text: string): TetherError {
  try {
    parsePatch(text);
  } catch (err) {
    expect(err).toBeInstanceOf(TetherError);
    expect((err as TetherError).code).toBe(ErrorCode.InvalidArgument);
    return err as TetherError;
  }
  throw new Error("expected a parse error");
}

describe("parsePatch: well-formed patches", () => {
  it("parses add, delete, and update with a move, in order", () => {
    const hunks = parsePatch(
      p("*** Begin Patch", "*** Add File: a/new.py", "+abc", "+", "+def", "*** Delete File: old.txt", "*** Update File: src/x.py", "*** Move to: src/y.py", "@@ def f():", "-    pass", "+    return 1", "*** End Patch"),
    );
    expect(hunks).toEqual([
      { kind: "add", path: "a/new.py", contents: "abc\n\ndef\n", line: 2 },
      { kind: "delete", path: "old.txt", line: 6 },
      {
        kind: "update",
        path: "src/x.py",
        movePath: "src/y.py",
        line: 7,
        chunks: [{ context: "def f():", oldLines: ["    pass"], newLines: ["    return 1"], endOfFile: false, line: 9 }],
      },
    ]);
  });

  it("accepts an empty patch body and an Add File with no lines", () => {
    expect(parsePatch("*** Begin Patch\n*** End Patch")).toEqual([]);
    expect(parsePatch("*** Begin Patch\n*** Add File: empty\n*** End Patch")).toEqual([{ kind: "add", path: "empty", contents: "", line: 2 }]);
  });

  it("parses several chunks, bare @@, End of File, and empty context lines", () => {
    const [hunk] = parsePatch(p("*** Begin Patch", "*** Update File: f", "@@", " a", "", "-b", "+B", "@@ class C", " c", "-d", "+D", "*** End of File", "*** End Patch"));
    expect(hunk).toMatchObject({
      kind: "update",
      chunks: [
        { oldLines: ["a", "", "b"], newLines: ["a", "", "B"], endOfFile: false, line: 3 },
        { context: "class C", oldLines: ["c", "d"], newLines: ["c", "D"], endOfFile: true, line: 8 },
      ],
    });
  });

  it("lets the first chunk omit its @@ line", () => {
    const [hunk] = parsePatch(p("*** Begin Patch", "*** Update File: f", " import foo", "+bar", "*** End Patch"));
    expect(hunk).toMatchObject({ chunks: [{ oldLines: ["import foo"], newLines: ["import foo", "bar"] }] });
  });

  it("tolerates padding around markers, CRLF, surrounding blank lines and a heredoc wrapper", () => {
    const body = ["  *** Begin Patch ", "*** Add File: x ", "+1", " *** End Patch  "];
    const expected = [{ kind: "add", path: "x", contents: "1\n", line: 2 }];
    expect(parsePatch(body.join("\r\n"))).toEqual(expected);
    expect(parsePatch(`\n\n${body.join("\n")}\n\n`)).toEqual([{ ...expected[0], line: 4 }]);
    expect(parsePatch(["<<'EOF'", ...body, "EOF"].join("\n"))).toEqual([{ ...expected[0], line: 3 }]);
    expect(parsePatch(["<<EOF", ...body, "EOF"].join("\n"))).toHaveLength(1);
  });

  it("an update followed by another hunk ends at the marker", () => {
    const hunks = parsePatch(p("*** Begin Patch", "*** Update File: a", "@@", "+x", "*** Add File: b", "+y", "*** End Patch"));
    expect(hunks.map((h) => h.kind)).toEqual(["update", "add"]);
  });

  it("keeps absolute paths and paths with spaces", () => {
    const [h] = parsePatch(p("*** Begin Patch", "*** Delete File: /abs/dir with space/f.txt", "*** End Patch"));
    expect(h).toMatchObject({ path: "/abs/dir with space/f.txt" });
  });
});

describe("parsePatch: malformed patches fail with the line", () => {
  const cases: [string, string, RegExp][] = [
    ["empty", "", /line 1: the patch is empty/],
    ["no begin", p("*** Add File: x", "+1", "*** End Patch"), /line 1: the first line must be '\*\*\* Begin Patch'/],
    ["no end", p("*** Begin Patch", "*** Add File: x", "+1"), /line 3: the last line must be '\*\*\* End Patch'/],
    ["only begin", "*** Begin Patch", /line 1: the last line must be/],
    ["bad header", p("*** Begin Patch", "*** Frobnicate File: x", "*** End Patch"), /line 2: '\*\*\* Frobnicate File: x' is not a hunk header/],
    ["text as header", p("*** Begin Patch", "hello", "*** End Patch"), /line 2: 'hello' is not a hunk header/],
    ["empty update", p("*** Begin Patch", "*** Update File: f", "*** End Patch"), /line 2: '\*\*\* Update File: f' has no changes/],
    ["empty path", p("*** Begin Patch", "*** Delete File:  ", "*** End Patch"), /line 2: .*(empty|not a hunk header)/],
    ["bad chunk line", p("*** Begin Patch", "*** Update File: f", "@@", "oops", "*** End Patch"), /line 4: unexpected line 'oops'/],
    ["@@ with nothing", p("*** Begin Patch", "*** Update File: f", "@@", "*** End Patch"), /line 3: the chunk has no lines/],
    ["EOF marker first", p("*** Begin Patch", "*** Update File: f", "@@", "*** End of File", "*** End Patch"), /line 4: '\*\*\* End of File' follows a chunk with no lines/],
    ["add line without plus", p("*** Begin Patch", "*** Add File: f", "+a", "b", "*** End Patch"), /line 4: 'b' is not a hunk header/],
    ["move without update body", p("*** Begin Patch", "*** Update File: f", "*** Move to: g", "*** End Patch"), /line 2: .* has no changes/],
  ];
  for (const [name, text, want] of cases) {
    it(name, () => {
      expect(parseError(text).message).toMatch(want);
      expect(parseError(text).message).toMatch(/^invalid patch: line \d+: /);
    });
  }

  it("a chunk line that is not a diff line ends the chunk, and a stray line after it is not a chunk", () => {
    const text = p("*** Begin Patch", "*** Update File: f", "@@", "-a", "+b", "stray", "*** End Patch");
    expect(parseError(text).message).toMatch(/line 6: expected a '@@' line to start the next chunk, got 'stray'/);
  });
});
