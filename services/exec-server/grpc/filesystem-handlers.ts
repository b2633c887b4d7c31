// gRPC handlers for tether.exec.v1.FileSystemService: check the request (naming the
// bad field), pick the session's file policy, call one FileService method, answer.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { ServiceHandlers } from "../../common/grpc-service.js";
import { FileSystemService, FileType, WatchEventKind } from "../../../gen/tether/exec/v1/filesystem_pb.js";
import type { FileInfoSchema, WatchResponseSchema, WriteFileRequest } from "../../../gen/tether/exec/v1/filesystem_pb.js";
import type { FileService, WriteFileHeader } from "../fs/file-service.js";
import type { FileKind, FileStat } from "../fs/file-stat.js";
import type { WatchChange, WatchItem } from "../fs/watch-queue.js";
import type { FileAccessPolicy } from "../sandbox/file-access.js";
import { encodeReadChunk } from "./read-file-response.js";

type FileSystemMethods = typeof FileSystemService extends { method: infer M extends GenServiceMethods } ? M : never;

const FILE_TYPES: Record<FileKind, FileType> = {
  file: FileType.FILE,
  directory: FileType.DIRECTORY,
  symlink: FileType.SYMLINK,
  other: FileType.OTHER,
};

const WATCH_KINDS: Record<WatchChange, WatchEventKind> = {
  created: WatchEventKind.CREATED,
  modified: WatchEventKind.MODIFIED,
  removed: WatchEventKind.REMOVED,
  renamed: WatchEventKind.RENAMED,
};

/** The wire form of a FileStat. */
function toFileInfo(st: FileStat): MessageInitShape<typeof FileInfoSchema> {
  return {
    path: st.path,
    type: FILE_TYPES[st.type],
    size: BigInt(st.size),
    mode: st.mode,
    mtimeMs: BigInt(Math.trunc(st.mtimeMs)),
    version: st.version,
    symlinkTarget: st.symlinkTarget,
  };
}

export function fileSystemHandlers(
  files: FileService,
  policyFor: (sessionId: string) => FileAccessPolicy,
): ServiceHandlers<FileSystemMethods> {
  return {
    async stat(req, ctx) {
      const info = await files.stat({ path: req.path, noFollow: req.noFollow }, { signal: ctx.signal, policy: policyFor(req.sessionId) });
      return { info: toFileInfo(info) };
    },

    async *readFile(req, ctx) {
      const range = { path: req.path, offset: safeNumber(req.offset, "offset"), length: safeNumber(req.length, "length") };
      for await (const chunk of files.readFile(range, { signal: ctx.signal, policy: policyFor(req.sessionId) })) {
        yield chunk.info
          ? { offset: BigInt(chunk.offset), data: chunk.data, info: toFileInfo(chunk.info) }
          : encodeReadChunk(chunk.offset, chunk.data);
      }
    },

    async writeFile(reqs, ctx) {
      const it = reqs[Symbol.asyncIterator]();
      const first = await it.next();
      if (first.done || first.value.part.case !== "header") {
        throw new TetherError(ErrorCode.InvalidArgument, "part: the first WriteFile message must be a header: send WriteFileHeader (path, mode, ...) before any data");
      }
      const h = first.value.part.value;
      const header: WriteFileHeader = {
        path: h.path,
        mode: checkMode(h.mode, "header.mode"),
        createParents: h.createParents,
        expectedVersion: h.expectedVersion,
      };
      const info = await files.writeFile(header, dataParts(it, h.explicitEnd), { signal: ctx.signal, policy: policyFor(h.sessionId) });
      return { info: toFileInfo(info) };
    },

    async makeDir(req, ctx) {
      const info = await files.makeDir(
        { path: req.path, parents: req.parents, mode: checkMode(req.mode, "mode") },
        { signal: ctx.signal, policy: policyFor(req.sessionId) },
      );
      return { info: toFileInfo(info) };
    },

    async *readDir(req, ctx) {
      for await (const batch of files.readDir({ path: req.path, depth: req.depth }, { signal: ctx.signal, policy: policyFor(req.sessionId) })) {
        yield { entries: batch.map((e) => ({ name: e.name, info: toFileInfo(e.info) })) };
      }
    },

    async remove(req, ctx) {
      await files.remove({ path: req.path, recursive: req.recursive, force: req.force }, { signal: ctx.signal, policy: policyFor(req.sessionId) });
      return {};
    },

    async copy(req, ctx) {
      const info = await files.copy(
        { source: req.source, destination: req.destination, recursive: req.recursive, overwrite: req.overwrite },
        { signal: ctx.signal, policy: policyFor(req.sessionId) },
      );
      return { info: toFileInfo(info) };
    },

    async rename(req, ctx) {
      const info = await files.rename(
        { source: req.source, destination: req.destination, overwrite: req.overwrite },
        { signal: ctx.signal, policy: policyFor(req.sessionId) },
      );
      return { info: toFileInfo(info) };
    },

    async canonicalize(req, ctx) {
      return { path: await files.canonicalize({ path: req.path }, { signal: ctx.signal, policy: policyFor(req.sessionId) }) };
    },

    async *watch(req, ctx) {
      if (req.paths.length === 0) throw new TetherError(ErrorCode.InvalidArgument, "paths is empty: pass at least one path to watch");
      for await (const item of files.watch({ paths: req.paths, recursive: req.recursive }, { signal: ctx.signal, policy: policyFor(req.sessionId) })) {
        yield* watchResponses(item);
      }
    },
  };
}

/**
 * The data messages after the header, ending at the end message (checked against the bytes
 * received) or, unless the header promised one, at the end of the stream. A second header
 * or an empty part is a client bug.
 */
async function* dataParts(it: AsyncIterator<WriteFileRequest>, explicitEnd: boolean): AsyncGenerator<Uint8Array> {
  let received = 0;
  while (true) {
    const next = await it.next();
    if (next.done) {
      if (!explicitEnd) return;
      // What a cancelled upload looks like when the reset follows the half-close: never commit it.
      throw new TetherError(ErrorCode.InvalidArgument, "part: the stream ended without the end message header.explicit_end promised: nothing was written");
    }
    const part = next.value.part;
    if (part.case === "data") {
      received += part.value.byteLength;
      yield part.value;
    } else if (part.case === "end") {
      if (part.value.size !== BigInt(received)) {
        throw new TetherError(ErrorCode.InvalidArgument, `end.size: the end message says ${part.value.size} bytes but ${received} arrived: nothing was written`);
      }
      if (!(await it.next()).done) throw new TetherError(ErrorCode.InvalidArgument, "part: WriteFile got a message after the end message: send end last");
      return;
    } else if (part.case === "header") throw new TetherError(ErrorCode.InvalidArgument, "part: WriteFile got a second header: send one header, then only data");
    else throw new TetherError(ErrorCode.InvalidArgument, "part: WriteFile message has neither header nor data: set data");
  }
}

// The protocol has no overflow event yet: lost changes are reported as MODIFIED on each
// watched root, which tells a client to rescan it (nothing is silently dropped).
function watchResponses(item: WatchItem): MessageInitShape<typeof WatchResponseSchema>[] {
  switch (item.type) {
    case "ready":
      return [{ event: { case: "ready", value: {} } }];
    case "change":
      return [{ event: { case: "change", value: { path: item.path, kind: WATCH_KINDS[item.change] } } }];
    case "overflow":
      return (item.roots ?? []).map((root) => ({ event: { case: "change", value: { path: root, kind: WatchEventKind.MODIFIED } } }));
  }
}

function safeNumber(value: bigint, field: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new TetherError(ErrorCode.InvalidArgument, `${field} ${value} is too large: at most ${Number.MAX_SAFE_INTEGER}`);
  }
  return Number(value);
}

function checkMode(mode: number, field: string): number {
  if (mode > 0o7777) {
    throw new TetherError(ErrorCode.InvalidArgument, `${field} 0o${mode.toString(8)} has bits beyond 0o7777: pass permission bits only, e.g. 0o644`);
  }
  return mode;
}
