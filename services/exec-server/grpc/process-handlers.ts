// ProcessService over gRPC: check the request, call one core method, answer.
import { create } from "@bufbuild/protobuf";
import type { GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import {
  type AttachResponse,
  AttachResponseSchema,
  type ExitStatus,
  OutputStream,
  type ProcessService,
  SignalTarget,
} from "../../../gen/tether/exec/v1/process_pb.js";
import type { ServiceHandlers } from "../../common/grpc-service.js";
import { PreEncoded, varintSize, writeVarint } from "../../common/pre-encoded.js";
import { ATTACH_MERGE_BYTES } from "../../common/resume-window.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { ExecCore } from "../exec-core.js";
import type { LogItem, LogStream } from "../process/output-log.js";
import { checkClientKey, checkLabels } from "../process/process-spec.js";
import { encodeStartedEvent } from "./started-event.js";
import { writeStreamHandler } from "./stdin-stream-handler.js";

type Methods = typeof ProcessService extends { method: infer M extends GenServiceMethods } ? M : never;

const STREAMS: Record<LogStream, OutputStream> = {
  stdout: OutputStream.STDOUT,
  stderr: OutputStream.STDERR,
  pty: OutputStream.PTY,
};

/**
 * AttachResponse{seq=1, output=3{stream=1, data=2}} written by hand: output is the bulk of
 * all traffic. Only the few header bytes are new; the data stays in the log's buffers until
 * the transport frames the message, so each byte is copied once. Output events always have
 * seq ≥ 1 and data, so no field is left at its default.
 */
export function encodeOutputEvent(seq: number, stream: OutputStream, data: readonly Uint8Array[]): PreEncoded {
  let dataLen = 0;
  for (const part of data) dataLen += part.byteLength;
  const innerLen = 1 + varintSize(stream) + 1 + varintSize(dataLen) + dataLen;
  const head = Buffer.allocUnsafe(1 + varintSize(seq) + 1 + varintSize(innerLen) + innerLen - dataLen);
  let o = 0;
  head[o++] = 0x08;
  o = writeVarint(head, o, seq);
  head[o++] = 0x1a;
  o = writeVarint(head, o, innerLen);
  head[o++] = 0x08;
  o = writeVarint(head, o, stream);
  head[o++] = 0x12;
  writeVarint(head, o, dataLen);
  return new PreEncoded(head, ...data);
}

function toAttachResponse(item: LogItem<ExitStatus>): AttachResponse | PreEncoded {
  switch (item.kind) {
    case "output":
      return encodeOutputEvent(item.seq, STREAMS[item.stream], item.parts ?? [item.data]);
    case "gap":
      return create(AttachResponseSchema, {
        seq: BigInt(item.toSeq),
        event: {
          case: "gap",
          value: { fromSeq: BigInt(item.fromSeq), toSeq: BigInt(item.toSeq), droppedBytes: BigInt(item.droppedBytes) },
        },
      });
    case "exit":
      return create(AttachResponseSchema, { seq: BigInt(item.seq), event: { case: "exited", value: { status: item.status } } });
  }
}

function requireId(processId: string): string {
  if (processId === "") throw new TetherError(ErrorCode.InvalidArgument, "process_id is empty: name the process");
  return processId;
}

function seqNumber(field: string, seq: bigint): number {
  if (seq > BigInt(Number.MAX_SAFE_INTEGER)) throw new TetherError(ErrorCode.InvalidArgument, `${field} ${seq} is too large`);
  return Number(seq);
}

export function processHandlers(core: ExecCore): ServiceHandlers<Methods> {
  return {
    async start(req, ctx) {
      const { process, created } = await core.startProcess(req.processId, req.spec, { sessionId: req.sessionId, signal: ctx.signal });
      return { process: process.info(), created };
    },
    async *attach(req, ctx) {
      const process = await core.startedProcess(requireId(req.processId));
      const afterSeq = seqNumber("after_seq", req.afterSeq);
      process.log.checkCursor(afterSeq, req.allowGaps);
      yield encodeStartedEvent(afterSeq, process);
      const read = { afterSeq, allowGaps: req.allowGaps, signal: ctx.signal, mergeUpToBytes: ATTACH_MERGE_BYTES };
      for await (const item of process.log.read(read)) {
        yield toAttachResponse(item);
      }
    },
    async write(req, ctx) {
      checkClientKey("write_id", req.writeId);
      const result = await core.writeStdin(requireId(req.processId), req.writeId, req.data, req.eof, ctx.signal);
      return { bytesWritten: BigInt(result.bytesWritten), applied: result.applied };
    },
    writeStream: writeStreamHandler(core),
    async signal(req) {
      const signal = req.signal.case === undefined ? undefined : req.signal.value;
      if (signal === undefined || signal === "") {
        throw new TetherError(ErrorCode.InvalidArgument, "signal is missing: set number (1-64) or name (e.g. TERM)");
      }
      const target = req.target === SignalTarget.PROCESS ? "process" : "group";
      core.signalProcess(requireId(req.processId), signal, target);
      return {};
    },
    async resize(req) {
      if (!req.size) throw new TetherError(ErrorCode.InvalidArgument, "size is missing: set rows and cols");
      core.resizeProcess(requireId(req.processId), req.size.rows, req.size.cols);
      return {};
    },
    async terminate(req) {
      return { status: await core.terminateProcess(requireId(req.processId), req.graceMs) };
    },
    async list(req) {
      checkLabels("labels", req.labels);
      return {
        processes: core.listProcesses({ sessionId: req.sessionId, labels: req.labels, includeExited: req.includeExited }),
      };
    },
    async wait(req, ctx) {
      return { status: await core.waitProcess(requireId(req.processId), ctx.signal) };
    },
  };
}
