// Codex's fs/* methods onto tether's FileService. A call with a sandbox is checked against
// that sandbox's file policy (the same rules bwrap enforces for processes); one without
// gets the session's default. Whole files travel base64 in one frame, so reads are capped.
import os from "node:os";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { FileAccessPolicy } from "../sandbox/file-access.js";
import { toSandboxPolicy } from "./codex-sandbox.js";
import {
  ConfigReadParams,
  CopyParams,
  CreateDirectoryParams,
  type MetadataResult,
  PathParams,
  RemoveParams,
  type SandboxContext,
  WatchMissingParams,
  WriteFileParams,
  parseParams,
  toFileUrl,
} from "./codex-wire.js";
import type { Handler, HandlerContext } from "./handler-context.js";

/** Largest file fs/readFile returns (its base64 must fit one frame). */
const MAX_READ_FILE_BYTES = 32 << 20;
/** Most entries fs/readDirectory returns. */
const MAX_DIR_ENTRIES = 100_000;

function policy(ctx: HandlerContext, sandbox: SandboxContext | null | undefined): FileAccessPolicy {
  if (!sandbox) return ctx.core.filePolicyFor(ctx.sessionId);
  const cwd = sandbox.cwd ?? sandbox.policyContext?.cwd ?? ctx.core.defaultCwd;
  return ctx.core.filePolicyOf(toSandboxPolicy(sandbox, { cwd, tmpdir: process.env.TMPDIR }), cwd);
}

function call(ctx: HandlerContext, sandbox: SandboxContext | null | undefined) {
  return { signal: ctx.signal, policy: policy(ctx, sandbox) };
}

const getMetadata: Handler = async (raw, ctx) => {
  const p = parseParams("fs/getMetadata", PathParams, raw);
  const opts = call(ctx, p.sandbox);
  const link = await ctx.core.files.stat({ path: p.path, noFollow: true }, opts);
  // Codex reports what a link points to, and that it is a link.
  const target = link.type === "symlink" ? await ctx.core.files.stat({ path: p.path }, opts).catch(() => undefined) : link;
  const result: MetadataResult = {
    isDirectory: target?.type === "directory",
    isFile: target?.type === "file",
    isSymlink: link.type === "symlink",
    size: target?.size ?? link.size,
    createdAtMs: 0,
    modifiedAtMs: Math.trunc((target ?? link).mtimeMs),
  };
  return result;
};

const readFile: Handler = async (raw, ctx) => {
  const p = parseParams("fs/readFile", PathParams, raw);
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of ctx.core.files.readFile({ path: p.path }, call(ctx, p.sandbox))) {
    size += chunk.data.byteLength;
    if (size > MAX_READ_FILE_BYTES) {
      throw new TetherError(ErrorCode.ResourceExhausted, `fs/readFile: ${p.path} is larger than ${MAX_READ_FILE_BYTES} bytes, the most one answer carries`);
    }
    parts.push(chunk.data);
  }
  return { dataBase64: Buffer.concat(parts, size).toString("base64") };
};

const writeFile: Handler = async (raw, ctx) => {
  const p = parseParams("fs/writeFile", WriteFileParams, raw);
  const data = Buffer.from(p.dataBase64, "base64");
  await ctx.core.files.writeFile({ path: p.path }, oneChunk(data), call(ctx, p.sandbox));
  return {};
};

async function* oneChunk(data: Uint8Array): AsyncIterable<Uint8Array> {
  yield data;
}

const createDirectory: Handler = async (raw, ctx) => {
  const p = parseParams("fs/createDirectory", CreateDirectoryParams, raw);
  await ctx.core.files.makeDir({ path: p.path, parents: p.recursive ?? false }, call(ctx, p.sandbox));
  return {};
};

const remove: Handler = async (raw, ctx) => {
  const p = parseParams("fs/remove", RemoveParams, raw);
  await ctx.core.files.remove({ path: p.path, recursive: p.recursive ?? false, force: p.force ?? false }, call(ctx, p.sandbox));
  return {};
};

const copy: Handler = async (raw, ctx) => {
  const p = parseParams("fs/copy", CopyParams, raw);
  await ctx.core.files.copy({ source: p.sourcePath, destination: p.destinationPath, recursive: p.recursive }, call(ctx, p.sandbox));
  return {};
};

const canonicalize: Handler = async (raw, ctx) => {
  const p = parseParams("fs/canonicalize", PathParams, raw);
  return { path: toFileUrl(await ctx.core.files.canonicalize({ path: p.path }, call(ctx, p.sandbox))) };
};

const readDirectory: Handler = async (raw, ctx) => {
  const p = parseParams("fs/readDirectory", PathParams, raw);
  const entries: { fileName: string; isDirectory: boolean; isFile: boolean }[] = [];
  for await (const batch of ctx.core.files.readDir({ path: p.path, depth: 1 }, call(ctx, p.sandbox))) {
    for (const e of batch) entries.push({ fileName: e.name, isDirectory: e.info.type === "directory", isFile: e.info.type === "file" });
    if (entries.length > MAX_DIR_ENTRIES) {
      throw new TetherError(ErrorCode.ResourceExhausted, `fs/readDirectory: ${p.path} has more than ${MAX_DIR_ENTRIES} entries, the most one answer carries`);
    }
  }
  return { entries };
};

/**
 * Codex asks to hear when a missing path appears (a new .git, AGENTS.md). tether says it is
 * not watching, and Codex probes again when it needs to; nothing is promised that is not kept.
 */
const watchMissing: Handler = async (raw) => {
  parseParams("fs/watchMissing", WatchMissingParams, raw);
  return { watching: false };
};

/** Codex's per-environment config layers: tether keeps none of Codex's config on the server side. */
const environmentConfigRead: Handler = async (raw) => {
  parseParams("environmentConfig/read", ConfigReadParams, raw);
  const codexHome = process.env.CODEX_HOME ?? `${os.homedir()}/.codex`;
  const empty = { layers: [], cloudInsertionIndex: 0 };
  return { userHomeDir: toFileUrl(os.homedir()), codexHomeDir: toFileUrl(codexHome), hostname: os.hostname(), config: empty, requirements: empty };
};

export const fsMethods: Record<string, Handler> = {
  "fs/getMetadata": getMetadata,
  "fs/readFile": readFile,
  "fs/writeFile": writeFile,
  "fs/createDirectory": createDirectory,
  "fs/remove": remove,
  "fs/copy": copy,
  "fs/canonicalize": canonicalize,
  "fs/readDirectory": readDirectory,
  "fs/watchMissing": watchMissing,
  "environmentConfig/read": environmentConfigRead,
};
