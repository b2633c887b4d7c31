// Copies a file or, with recursive, a directory tree. Files are streamed through the
// atomic writer (bounded memory, abortable, never half-written); modes are preserved;
// links inside a tree are copied as links, never followed.
import { chmod, mkdir, readdir, readlink, stat, symlink, unlink } from "node:fs/promises";
import type { Stats } from "node:fs";
import { join } from "node:path";
import { ErrorCode, TetherError, throwIfAborted } from "../../common/tether-error.js";
import { writeAtomic } from "./atomic-write.js";
import { lstatOrUndefined, statPath } from "./file-stat.js";
import type { FileStat } from "./file-stat.js";
import { fsError } from "./fs-error.js";
import type { PathResolver } from "./path-resolver.js";
import { readFileChunks } from "./read-file.js";

export interface CopyOptions {
  recursive: boolean;
  overwrite: boolean;
}

/** Copies resolved `source` (read-checked) to resolved `dest` (write-checked). */
export async function copyPath(source: string, dest: string, opts: CopyOptions, resolver: PathResolver, signal: AbortSignal): Promise<FileStat> {
  if (source === dest) throw new TetherError(ErrorCode.InvalidArgument, `cannot copy ${source} onto itself: pick another destination`);
  const src = await statOrThrow(source);
  const existing = await lstatOrUndefined(dest);
  if (existing && !opts.overwrite) {
    throw new TetherError(ErrorCode.AlreadyExists, `cannot copy to ${dest}: it already exists (pass overwrite to replace it)`);
  }
  if (src.isDirectory()) {
    if (!opts.recursive) throw new TetherError(ErrorCode.InvalidArgument, `cannot copy ${source}: it is a directory, pass recursive`);
    if (dest.startsWith(source + "/")) {
      throw new TetherError(ErrorCode.InvalidArgument, `cannot copy directory ${source} into itself (${dest}): pick a destination outside it`);
    }
    await copyTree(source, dest, src, resolver, signal);
    return statPath(dest);
  }
  if (!src.isFile()) throw new TetherError(ErrorCode.InvalidArgument, `cannot copy ${source}: it is not a regular file or directory`);
  if (existing?.isDirectory()) {
    throw new TetherError(ErrorCode.InvalidArgument, `cannot copy file ${source} over directory ${dest}: name the destination file, not its directory`);
  }
  return copyFile(source, dest, src.mode & 0o7777, resolver, signal);
}

async function copyFile(source: string, dest: string, mode: number, resolver: PathResolver, signal: AbortSignal): Promise<FileStat> {
  return writeAtomic(dest, fileData(source, resolver, signal), { signal, mode, forceMode: true });
}

async function* fileData(source: string, resolver: PathResolver, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  for await (const chunk of readFileChunks(source, { offset: 0, length: 0 }, resolver, signal)) yield chunk.data;
}

async function copyTree(source: string, dest: string, src: Stats, resolver: PathResolver, signal: AbortSignal): Promise<void> {
  throwIfAborted(signal);
  const existing = await lstatOrUndefined(dest);
  if (existing && !existing.isDirectory()) {
    throw new TetherError(ErrorCode.FailedPrecondition, `cannot copy directory ${source} over ${dest}: it is not a directory, remove it first`);
  }
  try {
    // Owner-only until filled, then the source's bits: a read-only source dir still gets copied into.
    if (!existing) await mkdir(dest, { mode: 0o700 });
  } catch (err) {
    throw fsError(err, "copy to", dest);
  }
  let names: string[];
  try {
    names = (await readdir(source)).sort();
  } catch (err) {
    throw fsError(err, "list", source);
  }
  for (const name of names) {
    const from = join(source, name);
    const to = join(dest, name);
    // What the policy hides is not there, as inside the sandbox.
    if (!resolver.allows(from, "read")) continue;
    resolver.check(to, "write");
    const st = await lstatOrUndefined(from);
    if (!st) continue;
    if (st.isDirectory()) await copyTree(from, to, st, resolver, signal);
    else if (st.isSymbolicLink()) await copyLink(from, to);
    else if (st.isFile()) await copyFile(from, to, st.mode & 0o7777, resolver, signal);
    else throw new TetherError(ErrorCode.InvalidArgument, `cannot copy ${from}: it is a device, fifo or socket; remove it from the tree or copy the files one by one`);
  }
  try {
    await chmod(dest, src.mode & 0o7777);
  } catch (err) {
    throw fsError(err, "copy to", dest);
  }
}

async function copyLink(from: string, to: string): Promise<void> {
  try {
    const target = await readlink(from);
    const existing = await lstatOrUndefined(to);
    if (existing?.isDirectory()) {
      throw new TetherError(ErrorCode.FailedPrecondition, `cannot copy link ${from} over directory ${to}: remove it first`);
    }
    if (existing) await unlink(to);
    await symlink(target, to);
  } catch (err) {
    throw fsError(err, "copy link to", to);
  }
}

async function statOrThrow(path: string): Promise<Stats> {
  try {
    return await stat(path);
  } catch (err) {
    throw fsError(err, "copy", path);
  }
}
