// ProcessService.WriteStream over gRPC: stdin from one long-lived stream. The first request
// names the process and the stream; every request is answered once its bytes reached the pipe.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { WriteStreamRequest, WriteStreamResponseSchema } from "../../../gen/tether/exec/v1/process_pb.js";
import type { CallContext } from "../../common/grpc-service.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { ExecCore } from "../exec-core.js";

type Response = MessageInitShape<typeof WriteStreamResponseSchema>;

/** Later requests may leave process_id and stream_id empty, but not change them. */
function sameOrEmpty(field: string, first: string, value: string): void {
  if (value !== "" && value !== first) {
    throw new TetherError(ErrorCode.InvalidArgument, `${field} changed mid-stream from ${JSON.stringify(first)}: open a new stream`);
  }
}

export function writeStreamHandler(core: ExecCore) {
  return async function* writeStream(reqs: AsyncIterable<WriteStreamRequest>, _ctx: CallContext): AsyncIterable<Response> {
    let target: { processId: string; streamId: string } | undefined;
    for await (const req of reqs) {
      if (target === undefined) {
        if (req.processId === "") throw new TetherError(ErrorCode.InvalidArgument, "process_id is empty: name the process in the first request");
        target = { processId: req.processId, streamId: req.streamId };
      } else {
        sameOrEmpty("process_id", target.processId, req.processId);
        sameOrEmpty("stream_id", target.streamId, req.streamId);
      }
      if (req.offset > BigInt(Number.MAX_SAFE_INTEGER)) throw new TetherError(ErrorCode.InvalidArgument, `offset ${req.offset} is too large`);
      const result = await core.processes.writeStream(target.processId, target.streamId, Number(req.offset), req.data, req.eof);
      yield { appliedOffset: BigInt(result.appliedOffset), eof: result.eof };
    }
  };
}
