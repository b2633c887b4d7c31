// Project instructions: the AGENTS.md files from the repository root (nearest ancestor of the
// cwd holding `.git`, else the cwd alone) down to the cwd, root first, each under a header
// naming it, capped in bytes. Read through the Environment's file API (the cwd may be remote),
// or with node:fs for a local cwd (local-instruction-files.ts).
import path from "node:path";
import type { FileInfo } from "../../../gen/tether/exec/v1/filesystem_pb.js";
import { FileType } from "../../common/wire-enums.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";

export interface ProjectInstructionsOptions {
  signal?: AbortSignal;
  /** Cap on the instruction text of all files together (headers not counted). Default 32 KiB. */
  maxBytes?: number;
  fileName?: string;
}

export interface ProjectInstructions {
  /** Ready for the model's instructions; "" when there is no file. */
  text: string;
  /** Files read (in part, when cut), root first. */
  files: string[];
  /** Bytes left out by the cap. */
  omittedBytes: number;
  /** Files that exist but could not be read (permission …): said, not fatal. */
  warnings: string[];
}

/**
 * The file calls project instructions need: an Environment's FileOps, or local-instruction-files.ts.
 * readFile of something that is not a regular file fails with InvalidArgument, as an exec server's does.
 */
export interface InstructionFiles {
  stat(path: string, opts?: { signal?: AbortSignal }): Promise<Pick<FileInfo, "type" | "size">>;
  readFile(path: string, opts?: { length?: number; signal?: AbortSignal }): { info: Promise<Pick<FileInfo, "type" | "size">>; chunks: AsyncIterable<Uint8Array> };
}

/** What reading one candidate gave: its first bytes and whole size, nothing there, or why not. */
type Candidate = { size: number; bytes: Uint8Array } | { absent: true } | { error: unknown };

export const DEFAULT_PROJECT_INSTRUCTIONS_BYTES = 32 * 1024;

export async function loadProjectInstructions(files: InstructionFiles, cwd: string, options: ProjectInstructionsOptions = {}): Promise<ProjectInstructions> {
  const signal = options.signal;
  const maxBytes = options.maxBytes ?? DEFAULT_PROJECT_INSTRUCTIONS_BYTES;
  const fileName = options.fileName ?? "AGENTS.md";
  // Remote cwds are POSIX paths whatever this process runs on.
  const dirs = ancestors(path.posix.resolve(cwd));
  // Each a network call for a remote environment: one round, in parallel: every ancestor's
  // `.git` stat and AGENTS.md read (up to the whole cap; a read also says whether the file is
  // there and its size). Those above the root are not used; the budget cuts what is below.
  const failures = new Map<string, string>();
  const why = (p: string, err: unknown) => `cannot read ${p}: ${err instanceof Error ? err.message : String(err)}`;
  const statOf = (p: string) => files.stat(p, { signal }).then(
    (info) => info,
    (err: unknown) => {
      // A .git the session may not even look at (a sandbox hiding /tmp above a cwd there) is not the user's project.
      if (isAbsent(err) || isDenied(err)) return undefined;
      if (signal?.aborted) throw err;
      failures.set(p, why(p, err));
      return undefined;
    },
  );
  const readOf = async (p: string): Promise<Candidate> => {
    try {
      const reading = files.readFile(p, { length: maxBytes, signal });
      const bytes = await readCapped(reading.chunks, maxBytes);
      const info = await reading.info;
      return info.type === FileType.FILE ? { size: Number(info.size), bytes } : { absent: true };
    } catch (err) {
      if (isAbsent(err)) return { absent: true };
      if (signal?.aborted) throw err;
      return { error: err };
    }
  };
  const gitPaths = dirs.map((d) => path.posix.join(d, ".git"));
  const [gits, allReads] = await Promise.all([Promise.all(gitPaths.map(statOf)), Promise.all(dirs.map((d) => readOf(path.posix.join(d, fileName))))]);
  const rootIndex = gits.findIndex((info) => info !== undefined);
  const chainLength = rootIndex < 0 ? 1 : rootIndex + 1;
  const candidates = dirs.slice(0, chainLength).reverse().map((d) => path.posix.join(d, fileName));
  const reads = await Promise.all(allReads.slice(0, chainLength).reverse().map((got, i) => hiddenOrFailed(files, candidates[i]!, got, signal)));
  const warnings = gitPaths.flatMap((p) => (failures.has(p) ? [failures.get(p)!] : []));

  const parts: string[] = [];
  const read: string[] = [];
  let budget = maxBytes;
  let omittedBytes = 0;
  let skipped = 0;
  for (const [i, file] of candidates.entries()) {
    const got = reads[i]!;
    if ("absent" in got) continue;
    if (budget <= 0) {
      omittedBytes += "size" in got ? got.size : 0;
      skipped++;
      continue;
    }
    if ("error" in got) {
      warnings.push(why(file, got.error));
      continue;
    }
    const size = got.size;
    const bytes = got.bytes.subarray(0, budget);
    const text = decodeWhole(bytes);
    const usedBytes = Buffer.byteLength(text);
    const cut = Math.max(0, size - usedBytes);
    budget -= usedBytes;
    omittedBytes += cut;
    read.push(file);
    const body = text.trim();
    if (body.length === 0 && cut === 0) continue;
    parts.push(`# Project instructions from ${file}\n\n${body}${cut > 0 ? `\n\n[… ${cut} more bytes of ${file} cut: project instructions are capped at ${maxBytes} bytes]` : ""}`);
    if (cut > 0) budget = 0;
  }
  if (skipped > 0) parts.push(`[… ${skipped} more ${fileName} file(s) nearer the cwd left out: project instructions are capped at ${maxBytes} bytes]`);
  return { text: parts.join("\n\n"), files: read, omittedBytes, warnings };
}

/** The directory itself, then each parent up to `/`. */
function ancestors(dir: string): string[] {
  const out = [dir];
  for (let d = dir; ; ) {
    const parent = path.posix.dirname(d);
    if (parent === d) return out;
    out.push(parent);
    d = parent;
  }
}

async function readCapped(chunks: AsyncIterable<Uint8Array>, max: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    const room = max - size;
    if (room <= 0) break;
    const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
    parts.push(piece);
    size += piece.length;
  }
  return Buffer.concat(parts);
}

/** UTF-8 text of the bytes, dropping a character the cap cut in half. */
function decodeWhole(bytes: Uint8Array): string {
  let end = bytes.length;
  // Step back over continuation bytes to the start of the last character, then keep it only if complete.
  let start = end - 1;
  while (start >= 0 && start > end - 4 && (bytes[start]! & 0xc0) === 0x80) start--;
  if (start >= 0) {
    const lead = bytes[start]!;
    const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (end - start < need) end = start;
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, end).toString("utf8");
}

/**
 * A read refused as PermissionDenied or InvalidArgument, told apart by a stat: what the session
 * may not see at all (its directory hidden by the sandbox, or not searchable) or what is not a
 * regular file (a directory, a fifo) is passed over silently; a regular file that failed to
 * read (an exec server gives InvalidArgument for EINVAL too) is worth a warning.
 */
async function hiddenOrFailed(files: InstructionFiles, file: string, got: Candidate, signal: AbortSignal | undefined): Promise<Candidate> {
  if (!("error" in got) || !(isDenied(got.error) || (got.error instanceof TetherError && got.error.code === ErrorCode.InvalidArgument))) return got;
  try {
    const info = await files.stat(file, { signal });
    return info.type === FileType.FILE ? got : { absent: true };
  } catch (err) {
    if (isAbsent(err) || isDenied(err)) return { absent: true };
    if (signal?.aborted) throw err;
    return got;
  }
}

function isDenied(err: unknown): boolean {
  return err instanceof TetherError && err.code === ErrorCode.PermissionDenied;
}

function isAbsent(err: unknown): boolean {
  return err instanceof TetherError && err.code === ErrorCode.NotFound;
}
