// Copies files and trees between this machine and an Environment, in either direction:
// streamed chunk by chunk (never a whole file in memory), modes kept, links inside a tree
// copied as links, destinations resolved like cp(1). Both sides sit behind one small
// interface, so the copy walk is written once.
import { randomBytes, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { chmod, lstat, mkdir, readdir, readlink, rename, stat, symlink, unlink } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { FileType } from "../../gen/tether/exec/v1/filesystem_pb.js";
import { ErrorCode, TetherError, errnoCode, throwIfAborted } from "../../services/common/tether-error.js";
import type { Environment } from "./environment.js";

/** One operand of a copy: `:path` names the environment's side, anything else this machine's. */
export interface CopyEndpoint {
  side: "local" | "remote";
  path: string;
}

export interface CopyProgress {
  bytesDone: number;
  /** Known only when the caller asked for progress (the tree is listed first). */
  bytesTotal: number;
  path: string;
}

export interface CopySummary {
  files: number;
  directories: number;
  symlinks: number;
  bytes: number;
  /** Where the source landed. */
  destination: string;
}

export interface CopyOptions {
  signal?: AbortSignal;
  onProgress?: (p: CopyProgress) => void;
}

type Kind = "file" | "dir" | "symlink" | "other";
interface Entry {
  kind: Kind;
  size: number;
  mode: number;
  linkTarget: string;
}

/** What the copy needs from either side. Paths are absolute. */
interface Side {
  label(p: string): string;
  /** undefined when nothing is there. */
  stat(p: string, follow: boolean): Promise<Entry | undefined>;
  /** Every entry below `dir`, parents before their children; links are not descended. */
  walk(dir: string): AsyncIterable<{ rel: string; entry: Entry }>;
  read(p: string): AsyncIterable<Uint8Array>;
  /** Replaces `p` with the data, ending with exactly `mode`. */
  writeFile(p: string, mode: number, data: AsyncIterable<Uint8Array>): Promise<void>;
  /** Creates `p` (owner-writable until `finish`) or accepts an existing directory. */
  makeDir(p: string, mode: number): Promise<void>;
  symlink(target: string, p: string): Promise<void>;
  /** Applies deferred directory modes, deepest first. */
  finish(): Promise<void>;
}

export function parseCopyOperand(text: string): CopyEndpoint {
  if (text.startsWith(":")) {
    const p = text.slice(1);
    if (p === "") throw new TetherError(ErrorCode.InvalidArgument, `${JSON.stringify(text)} names no remote path: write :/path/on/the/environment`);
    return { side: "remote", path: p };
  }
  if (text === "") throw new TetherError(ErrorCode.InvalidArgument, "an empty path was given: name a local path, or :/path on the environment");
  return { side: "local", path: text };
}

/** Exactly one operand must be on the environment; checked before anything connects. */
export function checkCopyDirection(source: CopyEndpoint, destination: CopyEndpoint): void {
  if (source.side === destination.side) {
    throw new TetherError(
      ErrorCode.InvalidArgument,
      source.side === "local"
        ? "both paths are local: prefix the environment's path with a colon (:/remote/path)"
        : "both paths are on the environment: one side must be local (drop the colon from it)",
    );
  }
}

export async function copyFiles(env: Environment, source: CopyEndpoint, destination: CopyEndpoint, opts: CopyOptions = {}): Promise<CopySummary> {
  checkCopyDirection(source, destination);
  const remoteCwd = source.side === "remote" && !path.posix.isAbsolute(source.path) || destination.side === "remote" && !path.posix.isAbsolute(destination.path)
    ? (await env.info({ signal: opts.signal })).defaultCwd || "/"
    : "/";
  const remote = remoteSide(env, opts.signal);
  const local = localSide();
  const abs = (e: CopyEndpoint) => (e.side === "remote" ? path.posix.resolve(remoteCwd, e.path) : path.resolve(e.path));
  const [from, to] = source.side === "local" ? [local, remote] : [remote, local];
  // In-process and socket environments share this machine's files: a tree copied into
  // itself would keep finding the copy it is making.
  const sameMachine = env.kind === "local" || env.kind === "unix";
  return copyBetween(from, abs(source), to, abs(destination), destination.path.endsWith("/"), { ...opts, sameMachine });
}

async function copyBetween(from: Side, src: string, to: Side, dst: string, dstIsDir: boolean, opts: CopyOptions & { sameMachine: boolean }): Promise<CopySummary> {
  // The named source is followed (like cp -H): a link given by name means what it points to.
  const srcEntry = await from.stat(src, true);
  if (!srcEntry) throw new TetherError(ErrorCode.NotFound, `${from.label(src)} does not exist: check the source path`);
  if (srcEntry.kind === "other") throw new TetherError(ErrorCode.InvalidArgument, `${from.label(src)} is not a regular file or directory (a device, socket or fifo): nothing to copy`);
  const target = await destinationFor(to, dst, dstIsDir, src, srcEntry.kind);
  if (opts.sameMachine && srcEntry.kind === "dir" && (target === src || target.startsWith(`${src}/`))) {
    throw new TetherError(ErrorCode.InvalidArgument, `cannot copy ${src} into itself (${target}): pick a destination outside it`);
  }

  const summary: CopySummary = { files: 0, directories: 0, symlinks: 0, bytes: 0, destination: target };
  let bytesTotal = 0;
  if (opts.onProgress) {
    bytesTotal = srcEntry.kind === "file" ? srcEntry.size : 0;
    if (srcEntry.kind === "dir") for await (const { entry } of from.walk(src)) if (entry.kind === "file") bytesTotal += entry.size;
  }
  const counted = async function* (p: string): AsyncIterable<Uint8Array> {
    for await (const chunk of from.read(path.posix.join(src, p))) {
      throwIfAborted(opts.signal);
      summary.bytes += chunk.byteLength;
      opts.onProgress?.({ bytesDone: summary.bytes, bytesTotal, path: p || path.posix.basename(src) });
      yield chunk;
    }
  };

  if (srcEntry.kind === "file") {
    await to.writeFile(target, srcEntry.mode, counted(""));
    await to.finish();
    summary.files = 1;
    return summary;
  }
  await to.makeDir(target, srcEntry.mode);
  summary.directories = 1;
  for await (const { rel, entry } of from.walk(src)) {
    throwIfAborted(opts.signal);
    const out = path.posix.join(target, rel);
    if (entry.kind === "dir") {
      await to.makeDir(out, entry.mode);
      summary.directories++;
    } else if (entry.kind === "file") {
      await to.writeFile(out, entry.mode, counted(rel));
      summary.files++;
    } else if (entry.kind === "symlink") {
      await to.symlink(entry.linkTarget, out);
      summary.symlinks++;
    }
    // Devices, sockets and fifos inside a tree are skipped, as tar does without privileges.
  }
  await to.finish();
  return summary;
}

/** Resolves the destination like cp: into an existing directory, else the named path. */
async function destinationFor(to: Side, dst: string, dstIsDir: boolean, src: string, kind: Kind): Promise<string> {
  const existing = await to.stat(dst, true);
  let target = dst;
  if (existing?.kind === "dir") {
    const name = path.posix.basename(src);
    target = name === "" || name === "." || name === ".." ? dst : path.posix.join(dst, name);
  } else if (dstIsDir) {
    throw new TetherError(
      existing ? ErrorCode.FailedPrecondition : ErrorCode.NotFound,
      existing ? `${to.label(dst)} is not a directory: drop the trailing slash to replace it` : `destination directory ${to.label(dst)} does not exist: create it first`,
    );
  } else if (!existing) {
    const parent = path.posix.dirname(dst);
    const parentEntry = await to.stat(parent, true);
    if (parentEntry?.kind !== "dir") {
      throw new TetherError(
        parentEntry ? ErrorCode.FailedPrecondition : ErrorCode.NotFound,
        parentEntry ? `${to.label(parent)} is not a directory: pick another destination` : `the destination's parent ${to.label(parent)} does not exist: create it first`,
      );
    }
  }
  const at = target === dst ? existing : await to.stat(target, true);
  if (at?.kind === "dir" && kind !== "dir") throw new TetherError(ErrorCode.FailedPrecondition, `${to.label(target)} is a directory: cannot replace it with a file`);
  if (at && at.kind !== "dir" && kind === "dir") throw new TetherError(ErrorCode.FailedPrecondition, `${to.label(target)} exists and is not a directory: cannot replace it with a directory`);
  return target;
}

function kindOf(type: FileType): Kind {
  if (type === FileType.FILE) return "file";
  if (type === FileType.DIRECTORY) return "dir";
  if (type === FileType.SYMLINK) return "symlink";
  return "other";
}

/** A directory's mode while we fill it: the caller's bits plus owner rwx, so a 0555 tree can be written. */
const fillMode = (mode: number) => mode | 0o700;

function localSide(): Side {
  const deferredModes: { p: string; mode: number }[] = [];
  const entryOf = (st: Awaited<ReturnType<typeof lstat>>, linkTarget = ""): Entry => ({
    kind: st.isFile() ? "file" : st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : "other",
    size: Number(st.size),
    mode: Number(st.mode) & 0o7777,
    linkTarget,
  });
  const side: Side = {
    label: (p) => p,
    async stat(p, follow) {
      try {
        return entryOf(follow ? await stat(p) : await lstat(p));
      } catch (err) {
        if (errnoCode(err) === "ENOENT") return undefined;
        throw TetherError.from(err, `stat ${p}`);
      }
    },
    async *walk(dir) {
      async function* under(abs: string, rel: string): AsyncGenerator<{ rel: string; entry: Entry }> {
        const names = (await readdir(abs)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        for (const name of names) {
          const full = path.join(abs, name);
          const st = await lstat(full);
          const entry = entryOf(st, st.isSymbolicLink() ? await readlink(full) : "");
          const r = rel === "" ? name : `${rel}/${name}`;
          yield { rel: r, entry };
          if (entry.kind === "dir") yield* under(full, r);
        }
      }
      yield* under(dir, "");
    },
    // One read per WriteFile message (grpc-file-ops sends up to 1 MiB each).
    read: (p) => createReadStream(p, { highWaterMark: 1 << 20 }),
    async writeFile(p, mode, data) {
      // Into a temp file beside the target, renamed over it: a failed copy leaves no half file.
      const temp = path.join(path.dirname(p), `.tether-cp-${randomBytes(6).toString("hex")}.tmp`);
      try {
        await pipeline(Readable.from(data, { objectMode: false }), createWriteStream(temp, { mode: 0o600, flags: "wx" }));
        await chmod(temp, mode);
        await rename(temp, p);
      } catch (err) {
        await unlink(temp).catch(() => undefined); // may not exist yet; the first error is the one to report
        throw TetherError.from(err, `write ${p}`);
      }
    },
    async makeDir(p, mode) {
      try {
        await mkdir(p, { mode: fillMode(mode) });
        await chmod(p, fillMode(mode));
      } catch (err) {
        if (errnoCode(err) !== "EEXIST" || (await side.stat(p, false))?.kind !== "dir") throw TetherError.from(err, `create directory ${p}`);
      }
      if (fillMode(mode) !== mode) deferredModes.push({ p, mode });
    },
    async symlink(target, p) {
      await unlink(p).catch((err: unknown) => {
        if (errnoCode(err) !== "ENOENT") throw TetherError.from(err, `replace ${p} with a link`);
      });
      await symlink(target, p).catch((err: unknown) => {
        throw TetherError.from(err, `create link ${p}`);
      });
    },
    async finish() {
      for (const { p, mode } of deferredModes.reverse()) await chmod(p, mode);
      deferredModes.length = 0;
    },
  };
  return side;
}

/** Most paths per remote chmod command. */
const CHMOD_BATCH = 200;
/** Output kept from a helper command, for its error message. */
const HELPER_OUTPUT_CAP = 4096;

function remoteSide(env: Environment, signal: AbortSignal | undefined): Side {
  // The file API sets a new file's exact mode but keeps an existing file's, and has no
  // chmod or symlink call: those few cases run chmod/ln on the environment, batched.
  const fileFixes: { p: string; mode: number }[] = [];
  const dirFixes: { p: string; mode: number }[] = [];
  const entryOf = (info: { type: FileType; size: bigint; mode: number; symlinkTarget: string }): Entry => ({
    kind: kindOf(info.type),
    size: Number(info.size),
    mode: info.mode & 0o7777,
    linkTarget: info.symlinkTarget,
  });
  const side: Side = {
    label: (p) => `:${p}`,
    async stat(p, follow) {
      try {
        return entryOf(await env.files.stat(p, { noFollow: !follow, signal }));
      } catch (err) {
        if (err instanceof TetherError && err.code === ErrorCode.NotFound) return undefined;
        throw err;
      }
    },
    async *walk(dir) {
      for await (const e of env.files.readDir(dir, { depth: 0xffff_ffff, signal })) {
        if (e.info) yield { rel: e.name, entry: entryOf(e.info) };
      }
    },
    read: (p) => env.files.readFile(p, { signal }).chunks,
    async writeFile(p, mode, data) {
      const info = await env.files.writeFile({ path: p, mode }, data, { signal });
      if ((info.mode & 0o7777) !== mode) fileFixes.push({ p, mode });
      if (fileFixes.length >= CHMOD_BATCH) await chmodAll(env, fileFixes.splice(0), signal);
    },
    async makeDir(p, mode) {
      try {
        await env.files.makeDir(p, { mode: fillMode(mode), signal });
      } catch (err) {
        if (!(err instanceof TetherError && err.code === ErrorCode.AlreadyExists) || (await side.stat(p, false))?.kind !== "dir") throw err;
      }
      if (fillMode(mode) !== mode) dirFixes.push({ p, mode });
    },
    async symlink(target, p) {
      await runHelper(env, ["ln", "-sfn", "--", target, p], signal);
    },
    async finish() {
      await chmodAll(env, fileFixes.splice(0), signal);
      // Deepest first: a directory loses its write bit only after its children are in place.
      await chmodAll(env, dirFixes.splice(0).reverse(), signal);
    },
  };
  return side;
}

/** chmod on the environment, one command per run of equal modes (in order), at most CHMOD_BATCH paths each. */
async function chmodAll(env: Environment, fixes: { p: string; mode: number }[], signal: AbortSignal | undefined): Promise<void> {
  for (let i = 0; i < fixes.length; ) {
    const mode = fixes[i]!.mode;
    const paths: string[] = [];
    while (i < fixes.length && fixes[i]!.mode === mode && paths.length < CHMOD_BATCH) paths.push(fixes[i++]!.p);
    await runHelper(env, ["chmod", mode.toString(8), "--", ...paths], signal);
  }
}

/** Runs a small command on the environment and fails with its output when it does. */
async function runHelper(env: Environment, argv: string[], signal: AbortSignal | undefined): Promise<void> {
  const id = `cp-${argv[0]}-${randomUUID()}`;
  await env.processes.start(id, { argv, stdinOpen: false, labels: { "tether.cp": "1" } }, { signal });
  let output = "";
  let code: number | undefined;
  let sig: number | undefined;
  for await (const ev of env.processes.attach(id, { signal })) {
    if (ev.event.case === "output" && output.length < HELPER_OUTPUT_CAP) output += Buffer.from(ev.event.value.data).toString("utf8").slice(0, HELPER_OUTPUT_CAP - output.length);
    if (ev.event.case === "exited") ({ code, signal: sig } = ev.event.value.status ?? {});
  }
  if (code !== 0) {
    const how = code !== undefined ? `exited with ${code}` : sig !== undefined ? `was killed by signal ${sig}` : "ended without a status";
    throw new TetherError(ErrorCode.FailedPrecondition, `\`${argv.slice(0, 4).join(" ")}${argv.length > 4 ? " …" : ""}\` on ${env.description} ${how}: ${output.trim() || "(no output)"}`);
  }
}
