// ProcessService.WriteStream over gRPC: stdin from one long-lived stream. The first request
// names the process and the stream. Answers are delayed, as TCP delays its ACKs: a keystroke
// costs no answer frame of its own, only one per burst.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { WriteStreamRequest, WriteStreamResponseSchema } from "../../../gen/tether/exec/v1/process_pb.js";
import type { CallContext } from "../../common/grpc-service.js";
import { PreEncoded, varintSize, writeVarint } from "../../common/pre-encoded.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { ExecCore } from "../exec-core.js";
import { checkClientKey } from "../process/process-spec.js";

type Response = MessageInitShape<typeof WriteStreamResponseSchema> | PreEncoded;

/** WriteStreamResponse's bytes, as toBinary writes them (a zero offset and a false eof left out): no create + toBinary per answer. */
function encodeAnswer(appliedOffset: number, eof: boolean): PreEncoded {
  const bytes = Buffer.allocUnsafe((appliedOffset === 0 ? 0 : 1 + varintSize(appliedOffset)) + (eof ? 2 : 0));
  let at = 0;
  if (appliedOffset !== 0) {
    bytes[at++] = 0x08;
    at = writeVarint(bytes, at, appliedOffset);
  }
  if (eof) {
    bytes[at++] = 0x10;
    bytes[at++] = 1;
  }
  return PreEncoded.control(bytes);
}

/** An answer is owed at most this long after the first request it covers. */
const ACK_DELAY_MS = 10;
/** ...or until this many bytes went in: well under what a client keeps unacknowledged. */
const ACK_BYTES = 64 << 10;

const ACK_DUE = Symbol("ack due");

/** Later requests may leave process_id and stream_id empty, but not change them. */
function sameOrEmpty(field: string, first: string, value: string): void {
  if (value !== "" && value !== first) {
    throw new TetherError(ErrorCode.InvalidArgument, `${field} changed mid-stream from ${JSON.stringify(first)}: open a new stream`);
  }
}

function checkTarget(target: { processId: string; streamId: string } | undefined, req: WriteStreamRequest) {
  if (target === undefined) {
    if (req.processId === "") throw new TetherError(ErrorCode.InvalidArgument, "process_id is empty: name the process in the first request");
    checkClientKey("stream_id", req.streamId);
    return { processId: req.processId, streamId: req.streamId };
  }
  sameOrEmpty("process_id", target.processId, req.processId);
  sameOrEmpty("stream_id", target.streamId, req.streamId);
  return target;
}

export function writeStreamHandler(core: ExecCore) {
  /**
   * Answers at once a request that closes stdin or carries no data (a flush), and once
   * ACK_BYTES went in; otherwise ACK_DELAY_MS after the first unanswered request, or at the end.
   */
  return async function* writeStream(reqs: AsyncIterable<WriteStreamRequest>, _ctx: CallContext): AsyncIterable<Response> {
    const requests = reqs[Symbol.asyncIterator]();
    let target: { processId: string; streamId: string } | undefined;
    let owed: Response | undefined;
    let owedBytes = 0;
    let timer: NodeJS.Timeout | undefined;
    let due: Promise<typeof ACK_DUE> | undefined;
    // The next request is asked for before this one is applied, so a failure can leave it
    // pending: it must not end as an unhandled rejection.
    const pull = () => {
      const p = requests.next();
      p.catch(() => undefined);
      return p;
    };
    try {
      let next = pull();
      for (;;) {
        const step = due === undefined ? await next : await Promise.race([next, due]);
        if (step === ACK_DUE || step.done) {
          if (owed !== undefined) yield owed;
          owed = due = undefined;
          owedBytes = 0;
          if (step === ACK_DUE) continue;
          return;
        }
        next = pull();
        const req = step.value;
        target = checkTarget(target, req);
        if (req.offset > BigInt(Number.MAX_SAFE_INTEGER)) throw new TetherError(ErrorCode.InvalidArgument, `offset ${req.offset} is too large`);
        const result = await core.writeStdinStream(target.processId, target.streamId, Number(req.offset), req.data, req.eof);
        owed = encodeAnswer(result.appliedOffset, result.eof);
        owedBytes += req.data.byteLength;
        if (req.eof || req.data.byteLength === 0 || owedBytes >= ACK_BYTES) {
          clearTimeout(timer);
          due = undefined;
          owedBytes = 0;
          yield owed;
          owed = undefined;
        } else {
          due ??= new Promise((resolve) => (timer = setTimeout(() => resolve(ACK_DUE), ACK_DELAY_MS)));
        }
      }
    } finally {
      clearTimeout(timer);
    }
  };
}
