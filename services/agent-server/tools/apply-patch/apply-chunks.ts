// Computes a file's new text from its current text and an Update File hunk's chunks, in
// memory: every chunk is located first (context line, then its old lines, fuzzily), and only
// when all are found are they replaced, so a chunk that does not match changes nothing.
import { ErrorCode, TetherError } from "../../../common/tether-error.js";
import type { UpdateChunk } from "./patch-parser.js";
import { seekSequence } from "./seek-sequence.js";

interface Replacement {
  at: number;
  remove: number;
  insert: string[];
  chunk: UpdateChunk;
}

export function applyChunks(original: string, chunks: readonly UpdateChunk[], path: string): string {
  const eol = original.includes("\r\n") ? "\r\n" : "\n";
  const lines = original.split(/\r?\n/);
  // A final newline leaves an empty last element, which is not a line of the file.
  if (lines.at(-1) === "") lines.pop();
  const replacements: Replacement[] = [];
  let cursor = 0;
  for (const chunk of chunks) {
    if (chunk.context !== undefined) {
      const found = seekSequence(lines, [chunk.context], cursor, false);
      if (found === undefined) {
        throw mismatch(path, chunk, `could not find the context line '${chunk.context}' (searched ${searched(cursor, lines.length)})`);
      }
      cursor = found + 1;
    }
    if (chunk.oldLines.length === 0) {
      // Pure addition: after the context line when one was given, else at the end of the file.
      replacements.push({ at: chunk.context !== undefined ? cursor : lines.length, remove: 0, insert: chunk.newLines, chunk });
      continue;
    }
    let old = chunk.oldLines;
    let next = chunk.newLines;
    let found = seekSequence(lines, old, cursor, chunk.endOfFile);
    if (found === undefined && old.at(-1) === "") {
      // A trailing empty context line is often the patch's own separator, not the file's.
      old = old.slice(0, -1);
      if (next.at(-1) === "") next = next.slice(0, -1);
      found = seekSequence(lines, old, cursor, chunk.endOfFile);
    }
    if (found === undefined) {
      const where = chunk.endOfFile ? "at the end of the file" : searched(cursor, lines.length);
      throw mismatch(path, chunk, `could not find these lines (searched ${where}):\n${chunk.oldLines.join("\n")}`);
    }
    replacements.push({ at: found, remove: old.length, insert: next, chunk });
    cursor = found + old.length;
  }
  replacements.sort((a, b) => a.at - b.at);
  for (let i = 1; i < replacements.length; i++) {
    const prev = replacements[i - 1]!;
    if (replacements[i]!.at < prev.at + prev.remove) throw mismatch(path, replacements[i]!.chunk, `overlaps the chunk at patch line ${prev.chunk.line}`);
  }
  for (const r of [...replacements].reverse()) lines.splice(r.at, r.remove, ...r.insert);
  return lines.length === 0 ? "" : lines.join(eol) + eol;
}

function searched(cursor: number, total: number): string {
  return cursor === 0 ? `the whole file, ${total} line${total === 1 ? "" : "s"}` : `after line ${cursor} of ${total}`;
}

function mismatch(path: string, chunk: UpdateChunk, what: string): TetherError {
  return new TetherError(ErrorCode.FailedPrecondition, `${path}: the chunk at patch line ${chunk.line} does not apply: ${what}`, {
    details: { path, patch_line: String(chunk.line) },
  });
}
