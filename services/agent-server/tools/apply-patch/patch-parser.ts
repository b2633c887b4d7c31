// Parses the `*** Begin Patch` … `*** End Patch` format models are trained on (Add File,
// Delete File, Update File with `@@` context chunks, `*** Move to:`, `*** End of File`) into
// hunks, without touching any file. Lenient where models are sloppy (padding around markers,
// a heredoc wrapper, a first chunk without `@@`); every error names the patch line.
import { ErrorCode, TetherError } from "../../../common/tether-error.js";

export interface UpdateChunk {
  /** A line (usually a declaration) to find first; `oldLines` are searched after it. */
  context?: string;
  oldLines: string[];
  newLines: string[];
  /** `oldLines` must sit at the end of the file. */
  endOfFile: boolean;
  /** 1-based line of the chunk in the patch text. */
  line: number;
}

export type PatchHunk =
  | { kind: "add"; path: string; contents: string; line: number }
  | { kind: "delete"; path: string; line: number }
  | { kind: "update"; path: string; movePath?: string; chunks: UpdateChunk[]; line: number };

const BEGIN = "*** Begin Patch";
const END = "*** End Patch";
const ADD = "*** Add File: ";
const DELETE = "*** Delete File: ";
const UPDATE = "*** Update File: ";
const MOVE = "*** Move to: ";
const EOF_MARK = "*** End of File";
const HEREDOC_START = /^<<\s*(['"]?)EOF\1$/;

export function patchError(line: number, message: string): TetherError {
  return new TetherError(ErrorCode.InvalidArgument, `invalid patch: line ${line}: ${message}`, { details: { line: String(line) } });
}

interface Line {
  text: string;
  no: number;
}

export function parsePatch(patch: string): PatchHunk[] {
  let lines: Line[] = patch.split(/\r?\n/).map((text, i) => ({ text, no: i + 1 }));
  while (lines.length > 0 && lines[0]!.text.trim() === "") lines.shift();
  while (lines.length > 0 && lines.at(-1)!.text.trim() === "") lines.pop();
  if (lines.length === 0) throw patchError(1, `the patch is empty; it must start with '${BEGIN}' and end with '${END}'`);
  // A heredoc wrapper (`<<'EOF'` … `EOF`) copied from a shell invocation.
  if (HEREDOC_START.test(lines[0]!.text.trim()) && lines.length >= 4 && lines.at(-1)!.text.trim().endsWith("EOF")) lines = lines.slice(1, -1);
  const first = lines[0]!;
  const last = lines.at(-1)!;
  if (first.text.trim() !== BEGIN) throw patchError(first.no, `the first line must be '${BEGIN}', got '${clip(first.text)}'`);
  if (lines.length < 2 || last.text.trim() !== END) throw patchError(last.no, `the last line must be '${END}', got '${clip(last.text)}'`);
  const body = lines.slice(1, -1);
  const hunks: PatchHunk[] = [];
  let i = 0;
  while (i < body.length) {
    if (body[i]!.text.trim() === "") {
      i++;
      continue;
    }
    const [hunk, used] = parseHunk(body, i);
    hunks.push(hunk);
    i += used;
  }
  return hunks;
}

function parseHunk(lines: Line[], at: number): [PatchHunk, number] {
  const header = lines[at]!;
  const text = header.text.trim();
  if (text.startsWith(ADD)) {
    const path = filePath(text.slice(ADD.length), header);
    const contents: string[] = [];
    let i = at + 1;
    while (i < lines.length && lines[i]!.text.startsWith("+")) contents.push(lines[i++]!.text.slice(1));
    return [{ kind: "add", path, contents: contents.map((l) => `${l}\n`).join(""), line: header.no }, i - at];
  }
  if (text.startsWith(DELETE)) return [{ kind: "delete", path: filePath(text.slice(DELETE.length), header), line: header.no }, 1];
  if (!text.startsWith(UPDATE)) {
    throw patchError(header.no, `'${clip(text)}' is not a hunk header; use '*** Add File: PATH', '*** Delete File: PATH' or '*** Update File: PATH'`);
  }
  const path = filePath(text.slice(UPDATE.length), header);
  let i = at + 1;
  let movePath: string | undefined;
  if (i < lines.length && lines[i]!.text.trim().startsWith(MOVE)) {
    movePath = filePath(lines[i]!.text.trim().slice(MOVE.length), lines[i]!);
    i++;
  }
  const chunks: UpdateChunk[] = [];
  while (i < lines.length) {
    const line = lines[i]!;
    // Blank lines between chunks are padding; a marker line starts the next hunk.
    if (line.text.trim() === "") {
      i++;
      continue;
    }
    if (line.text.startsWith("*")) break;
    const [chunk, used] = parseChunk(lines, i, chunks.length === 0);
    chunks.push(chunk);
    i += used;
  }
  if (chunks.length === 0) throw patchError(header.no, `'*** Update File: ${path}' has no changes; add @@ chunks with ' ', '-' and '+' lines, or drop it`);
  return [{ kind: "update", path, ...(movePath === undefined ? {} : { movePath }), chunks, line: header.no }, i - at];
}

function parseChunk(lines: Line[], at: number, first: boolean): [UpdateChunk, number] {
  const head = lines[at]!;
  let context: string | undefined;
  let i = at;
  if (head.text.trim() === "@@") {
    i++;
  } else if (head.text.startsWith("@@ ")) {
    context = head.text.slice(3);
    i++;
  } else if (!first) {
    throw patchError(head.no, `expected a '@@' line to start the next chunk, got '${clip(head.text)}'`);
  }
  const chunk: UpdateChunk = { ...(context === undefined ? {} : { context }), oldLines: [], newLines: [], endOfFile: false, line: head.no };
  let taken = 0;
  for (; i < lines.length; i++) {
    const { text, no } = lines[i]!;
    if (text.trim() === EOF_MARK) {
      if (taken === 0) throw patchError(no, "'*** End of File' follows a chunk with no lines");
      chunk.endOfFile = true;
      i++;
      break;
    }
    const sign = text[0];
    if (text === "") {
      // An empty line inside a chunk is an empty context line whose leading space was lost.
      chunk.oldLines.push("");
      chunk.newLines.push("");
    } else if (sign === " ") {
      chunk.oldLines.push(text.slice(1));
      chunk.newLines.push(text.slice(1));
    } else if (sign === "-") {
      chunk.oldLines.push(text.slice(1));
    } else if (sign === "+") {
      chunk.newLines.push(text.slice(1));
    } else {
      if (taken === 0) throw patchError(no, `unexpected line '${clip(text)}' in a chunk: every line starts with ' ' (context), '-' (removed) or '+' (added)`);
      break;
    }
    taken++;
  }
  if (taken === 0) throw patchError(head.no, "the chunk has no lines; add ' ', '-' or '+' lines after '@@'");
  return [chunk, i - at];
}

function filePath(raw: string, line: Line): string {
  const path = raw.trim();
  if (path === "") throw patchError(line.no, "the file path is empty");
  return path;
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
