// Turns parsed hunks into a plan: every file the patch touches is read once through the
// Environment (content, version, mode), every hunk is applied in memory in order, and the
// result is the final state of each file plus a diff per hunk. Nothing is written here, so a
// patch that fails anywhere leaves every file as it was.
import path from "node:path";
import type { FileOps } from "../../../../clients/environment/environment.js";
import { ErrorCode, TetherError } from "../../../common/tether-error.js";
import type { FileChange } from "../../thread/thread-event.js";
import { applyChunks } from "./apply-chunks.js";
import type { PatchHunk } from "./patch-parser.js";
import { unifiedDiff } from "./unified-diff.js";

/** Files larger than this are not patched (they are read whole into memory). */
export const MAX_PATCHED_FILE_BYTES = 16 << 20;

export interface OriginalFile {
  bytes: Buffer;
  version: string;
  mode: number;
}

export interface PlannedFile {
  /** Absolute path on the environment. */
  path: string;
  /** null: the file did not exist when read. */
  original: OriginalFile | null;
  /** null: the file is to be deleted (or stays absent). */
  final: string | null;
  /** Permission bits for a file that did not exist (a move keeps its source's). */
  mode: number;
}

export interface PatchPlan {
  /** Files whose final state differs from what was read, writes before deletions. */
  files: PlannedFile[];
  /** One entry per file, for the file_change item. */
  changes: FileChange[];
}

/** The absolute path of a patch path (relative ones are below `cwd`). */
export function resolvePatchPath(cwd: string, p: string): string {
  return path.posix.resolve(cwd, p);
}

export async function planPatch(hunks: readonly PatchHunk[], cwd: string, files: FileOps, signal: AbortSignal): Promise<PatchPlan> {
  const states = new Map<string, PlannedFile>();
  const binary = new Set<string>();
  /** Each file's text as read (null: absent or binary). */
  const texts = new Map<string, string | null>();
  const touch = async (abs: string): Promise<PlannedFile> => {
    let st = states.get(abs);
    if (st === undefined) {
      const original = await readOriginal(files, abs, signal);
      const text = original === null ? null : utf8(original.bytes);
      // A binary file may be deleted or replaced, not edited: it has no lines.
      st = { path: abs, original, final: text ?? (original === null ? null : ""), mode: original?.mode ?? 0 };
      if (original !== null && text === null) binary.add(abs);
      texts.set(abs, text);
      states.set(abs, st);
    }
    return st;
  };
  for (const hunk of hunks) {
    const abs = resolvePatchPath(cwd, hunk.path);
    const st = await touch(abs);
    const before = st.final;
    if (hunk.kind === "add") {
      st.final = hunk.contents;
    } else if (hunk.kind === "delete") {
      if (before === null) throw missing(hunk, "delete");
      st.final = null;
    } else {
      if (before === null) throw missing(hunk, "update");
      if (binary.has(abs)) throw new TetherError(ErrorCode.FailedPrecondition, `cannot update ${hunk.path} (patch line ${hunk.line}): it is not UTF-8 text; apply_patch edits text files only`);
      const after = applyChunks(before, hunk.chunks, hunk.path);
      if (hunk.movePath === undefined) {
        st.final = after;
      } else {
        const dst = await touch(resolvePatchPath(cwd, hunk.movePath));
        if (dst !== st) {
          st.final = null;
          dst.final = after;
          if (dst.original === null) dst.mode = st.original?.mode ?? st.mode;
        } else {
          st.final = after;
        }
      }
    }
  }
  const changes = fileChanges(hunks, cwd, states, texts, binary);
  const changed = [...states.values()].filter((st) => (st.original === null ? st.final !== null : st.final === null || !st.original.bytes.equals(Buffer.from(st.final, "utf8"))));
  // Writes first: a move creates its destination before removing its source.
  return { files: [...changed.filter((f) => f.final !== null), ...changed.filter((f) => f.final === null)], changes };
}

/**
 * One change per file, in the order the patch first names it, diffed from what was read to
 * what will be written: several hunks on one file make one diff, a move one rename.
 */
function fileChanges(hunks: readonly PatchHunk[], cwd: string, states: Map<string, PlannedFile>, texts: Map<string, string | null>, binary: Set<string>): FileChange[] {
  const changes: FileChange[] = [];
  const shown = new Set<string>();
  const diff = (srcAbs: string, after: string | null, p: string, newP: string): string =>
    binary.has(srcAbs) ? `Binary file ${p} ${after === null ? "deleted" : "replaced"}\n` : unifiedDiff(texts.get(srcAbs) ?? null, after, p, newP);
  for (const hunk of hunks) {
    const abs = resolvePatchPath(cwd, hunk.path);
    if (shown.has(abs)) continue;
    shown.add(abs);
    const st = states.get(abs)!;
    const moveAbs = hunk.kind === "update" && hunk.movePath !== undefined ? resolvePatchPath(cwd, hunk.movePath) : undefined;
    if (hunk.kind === "update" && hunk.movePath !== undefined && moveAbs !== undefined && moveAbs !== abs && st.final === null) {
      shown.add(moveAbs);
      changes.push({ path: hunk.path, kind: "update", movePath: hunk.movePath, diff: diff(abs, states.get(moveAbs)!.final, hunk.path, hunk.movePath) });
      continue;
    }
    if (st.original === null && st.final === null) continue; // added, then deleted again
    const kind = st.original === null ? "add" : st.final === null ? "delete" : "update";
    changes.push({ path: hunk.path, kind, diff: diff(abs, st.final, hunk.path, hunk.path) });
  }
  return changes;
}

function missing(hunk: PatchHunk, verb: string): TetherError {
  return new TetherError(ErrorCode.NotFound, `cannot ${verb} ${hunk.path} (patch line ${hunk.line}): the file does not exist`);
}

async function readOriginal(files: FileOps, abs: string, signal: AbortSignal): Promise<OriginalFile | null> {
  const parts: Buffer[] = [];
  let size = 0;
  try {
    const read = files.readFile(abs, { signal });
    for await (const chunk of read.chunks) {
      size += chunk.byteLength;
      if (size > MAX_PATCHED_FILE_BYTES) throw new TetherError(ErrorCode.FailedPrecondition, `${abs} is larger than ${MAX_PATCHED_FILE_BYTES >> 20} MiB: too large to patch`);
      parts.push(Buffer.from(chunk));
    }
    const info = await read.info;
    return { bytes: Buffer.concat(parts), version: info.version, mode: info.mode & 0o7777 };
  } catch (err) {
    if (err instanceof TetherError && err.code === ErrorCode.NotFound) return null;
    throw err;
  }
}

/** The text of UTF-8 bytes, or null when a round trip would change them (binary content). */
function utf8(bytes: Buffer): string | null {
  const text = bytes.toString("utf8");
  return Buffer.from(text, "utf8").equals(bytes) ? text : null;
}
