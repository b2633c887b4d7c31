// FileOps over gRPC. Reads resume from the last byte received after a reconnect;
// writes are one client stream (atomic on the server), so they are not retried.
import type { DirEntry, FileInfo, WatchEvent } from "../../gen/tether/exec/v1/filesystem_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { WriteFileHeaderSchema, WriteFileRequestSchema } from "../../gen/tether/exec/v1/filesystem_pb.js";
import type { CallOptions } from "../../services/common/gen-methods.js";
import type { PreEncoded } from "../../services/common/pre-encoded.js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import type { FileOps, WriteFileHeaderInit } from "./environment.js";
import type { Connection } from "./grpc-connection.js";
import { type Outage, isTransportFailure } from "./reconnect.js";
import { encodeWriteData } from "./write-file-wire.js";

type Retry = <T>(what: string, call: () => Promise<T>, signal?: AbortSignal) => Promise<T>;
type Resumable = (what: string) => Outage;

/** Splits what callers pass as file data into messages of at most this many bytes. */
const WRITE_CHUNK = 1 << 20;

/**
 * Header, data, then the end message: the server commits only after it, so a cancelled
 * upload (whose stream Node half-closes before resetting it) is never taken as complete.
 */
async function* toRequests(header: WriteFileHeaderInit, sessionId: string, data: AsyncIterable<Uint8Array> | Uint8Array): AsyncIterable<MessageInitShape<typeof WriteFileRequestSchema> | PreEncoded> {
  yield { part: { case: "header", value: { ...header, sessionId, explicitEnd: true } as MessageInitShape<typeof WriteFileHeaderSchema> } };
  const chunks = data instanceof Uint8Array ? [data] : data;
  let size = 0;
  for await (const chunk of chunks) {
    for (let off = 0; off < chunk.byteLength; off += WRITE_CHUNK) {
      const part = chunk.subarray(off, off + WRITE_CHUNK);
      size += part.byteLength;
      yield encodeWriteData(part);
    }
  }
  yield { part: { case: "end", value: { size: BigInt(size) } } };
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new TetherError(ErrorCode.Internal, `the server's answer has no ${what}`);
  return value;
}

export function grpcFileOps(conn: Connection, sessionId: string, retry: Retry, resumable: Resumable, ready: CallOptions): FileOps {
  const c = conn.files;
  return {
    stat: (path, opts) => retry("Stat", async () => required((await c.stat({ path, noFollow: opts?.noFollow ?? false, sessionId }, { ...ready, signal: opts?.signal })).info, "file info"), opts?.signal),
    readFile(path, opts) {
      let resolveInfo!: (info: FileInfo) => void;
      let rejectInfo!: (err: unknown) => void;
      const info = new Promise<FileInfo>((res, rej) => ((resolveInfo = res), (rejectInfo = rej)));
      info.catch(() => undefined);
      async function* chunks(): AsyncIterable<Uint8Array> {
        const start = opts?.offset ?? 0;
        const length = opts?.length ?? 0;
        let received = 0;
        let gotInfo = false;
        const outage = resumable(`ReadFile ${path}`);
        for (;;) {
          try {
            // After a cut, ask for the rest only: nothing is repeated or skipped.
            const rest = length === 0 ? 0 : length - received;
            const stream = c.readFile({ path, offset: BigInt(start + received), length: BigInt(rest), sessionId }, { ...ready, signal: opts?.signal });
            for await (const msg of stream) {
              outage.recovered();
              if (msg.info && !gotInfo) {
                gotInfo = true;
                resolveInfo(msg.info);
              }
              if (msg.data.byteLength > 0) {
                received += msg.data.byteLength;
                yield msg.data;
              }
            }
            if (!gotInfo) throw new TetherError(ErrorCode.Internal, "ReadFile ended without file info");
            return;
          } catch (err) {
            if (!isTransportFailure(err) || opts?.signal?.aborted) {
              rejectInfo(err);
              throw err;
            }
            await outage.failed(err as TetherError, opts?.signal).catch((e: unknown) => {
              rejectInfo(e);
              throw e;
            });
          }
        }
      }
      return { info, chunks: chunks() };
    },
    writeFile: async (header, data, opts) =>
      required((await c.writeFile(toRequests(header, sessionId, data), { signal: opts?.signal, ...ready })).info, "file info"),
    makeDir: (path, opts) => retry("MakeDir", async () => required((await c.makeDir({ path, parents: opts?.parents ?? false, mode: opts?.mode ?? 0, sessionId }, ready)).info, "file info"), opts?.signal),
    async *readDir(path, opts): AsyncIterable<DirEntry> {
      for await (const batch of c.readDir({ path, depth: opts?.depth ?? 1, sessionId }, { ...ready, signal: opts?.signal })) yield* batch.entries;
    },
    remove: async (path, opts) => {
      await retry("Remove", () => c.remove({ path, recursive: opts?.recursive ?? false, force: opts?.force ?? false, sessionId }, ready), opts?.signal);
    },
    copy: (source, destination, opts) =>
      retry("Copy", async () => required((await c.copy({ source, destination, recursive: opts?.recursive ?? false, overwrite: opts?.overwrite ?? false, sessionId }, ready)).info, "file info"), opts?.signal),
    rename: async (source, destination, opts) =>
      required((await c.rename({ source, destination, overwrite: opts?.overwrite ?? false, sessionId }, { ...ready, signal: opts?.signal })).info, "file info"),
    canonicalize: (path, opts) => retry("Canonicalize", async () => (await c.canonicalize({ path, sessionId }, ready)).path, opts?.signal),
    async *watch(paths, opts): AsyncIterable<{ ready: true } | WatchEvent> {
      for await (const msg of c.watch({ paths, recursive: opts?.recursive ?? false, sessionId }, { ...ready, signal: opts?.signal })) {
        if (msg.event.case === "ready") yield { ready: true };
        else if (msg.event.case === "change") yield msg.event.value;
      }
    },
  };
}
