// Project instructions: the AGENTS.md files from the repository root (nearest ancestor of the
// cwd holding `.git`, else the cwd alone) down to the cwd, root first, each under a header
// naming it, capped in bytes. As Codex: in each directory the first of AGENTS.override.md,
// AGENTS.md, then the config's project_doc_fallback_filenames that exists is the one read
// (even when empty). Read through the Environment's file API (the cwd may be remote: an early
// session's, early-session.ts, before the environment is open), or with node:fs for a local
// cwd (local-instruction-files.ts).
import path from "node:path";
import type { FileInfo } from "../../../gen/tether/exec/v1/filesystem_pb.js";
import { FileType } from "../../common/wire-enums.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";

export interface ProjectInstructionsOptions {
  signal?: AbortSignal;
  /** Cap on the instruction text of all files together (headers not counted). Default 32 KiB. */
  maxBytes?: number;
  /** Codex's project_doc_fallback_filenames: names tried, in order, in a directory with neither AGENTS.override.md nor AGENTS.md. */
  fallbackFileNames?: readonly string[];
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
export const OVERRIDE_INSTRUCTIONS_FILE = "AGENTS.override.md";
export const INSTRUCTIONS_FILE = "AGENTS.md";

/** The names tried in each directory, first found wins: the override, AGENTS.md, then the fallbacks (blank and repeated names dropped, as Codex does). */
export function instructionFileNames(fallbacks: readonly string[] = []): string[] {
  const names = [OVERRIDE_INSTRUCTIONS_FILE, INSTRUCTIONS_FILE];
  for (const name of fallbacks) if (name.length > 0 && !names.includes(name)) names.push(name);
  return names;
}

export async function loadProjectInstructions(files: InstructionFiles, cwd: string, options: ProjectInstructionsOptions = {}): Promise<ProjectInstructions> {
  const signal = options.signal;
  const maxBytes = options.maxBytes ?? DEFAULT_PROJECT_INSTRUCTIONS_BYTES;
  const names = instructionFileNames(options.fallbackFileNames);
  // Remote cwds are POSIX paths whatever this process runs on.
  const dirs = ancestors(path.posix.resolve(cwd));
  // Each a network call for a remote environment: one round, in parallel: every ancestor's
  // `.git` stat and a read of every candidate name there (up to the whole cap; a read also says
  // whether the file is there and its size). Reading every name at once costs reads that are
  // not used (above the root, behind an override) but no second round trip; the budget cuts
  // what is used.
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
  const [gits, allReads] = await Promise.all([
    Promise.all(gitPaths.map(statOf)),
    Promise.all(dirs.map((d) => Promise.all(names.map((n) => readOf(path.posix.join(d, n)))))),
  ]);
  const rootIndex = gits.findIndex((info) => info !== undefined);
  const chainLength = rootIndex < 0 ? 1 : rootIndex + 1;
  const chain = dirs.slice(0, chainLength).reverse();
  const chainReads = allReads.slice(0, chainLength).reverse();
  // Per directory, the first name there: a read refused is told apart (hiddenOrFailed) for the
  // names in order, so a later round happens only in a directory where a read was refused.
  const chosen = await Promise.all(chain.map((d, i) => firstPresent(files, d, names, chainReads[i]!, signal)));
  const candidates = chosen.flatMap((c) => (c === undefined ? [] : [c.file]));
  const reads = chosen.flatMap((c) => (c === undefined ? [] : [c.got]));
  const warnings = gitPaths.flatMap((p) => (failures.has(p) ? [failures.get(p)!] : []));

  const parts: string[] = [];
  const read: string[] = [];
  let budget = maxBytes;
  let omittedBytes = 0;
  let skipped = 0;
  for (const [i, file] of candidates.entries()) {
    const got = reads[i]!;
    if ("absent" in got) continue; // not chosen by firstPresent; kept for the type
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
  if (skipped > 0) parts.push(`[… ${skipped} more instruction file(s) nearer the cwd left out: project instructions are capped at ${maxBytes} bytes]`);
  return { text: parts.join("\n\n"), files: read, omittedBytes, warnings };
}

/** The first name present in `dir` (in the order given), with what reading it gave. */
async function firstPresent(files: InstructionFiles, dir: string, names: readonly string[], reads: readonly Candidate[], signal: AbortSignal | undefined): Promise<{ file: string; got: Candidate } | undefined> {
  for (const [i, name] of names.entries()) {
    const file = path.posix.join(dir, name);
    const got = await hiddenOrFailed(files, file, reads[i]!, signal);
    if (!("absent" in got)) return { file, got };
  }
  return undefined;
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
