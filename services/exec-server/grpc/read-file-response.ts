// ReadFileResponse for a data chunk, encoded by hand: the generic encoder would copy each
// chunk into a zero-filled buffer before grpc-js copies it again into its frame. The
// header goes into the free bytes the reader left before the data (READ_HEADROOM_BYTES),
// so the message is one buffer that grpc-js copies once.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ReadFileResponseSchema } from "../../../gen/tether/exec/v1/filesystem_pb.js";
import { PreEncoded, varintSize, writeVarint } from "../../common/pre-encoded.js";

// Tags of ReadFileResponse: offset = 2 (varint), data = 3 (length-delimited).
const OFFSET_TAG = (2 << 3) | 0;
const DATA_TAG = (3 << 3) | 2;

/** `data` must be a view with free bytes before it (ReadChunk.data); they are overwritten. */
export function encodeReadChunk(offset: number, data: Uint8Array): PreEncoded | MessageInitShape<typeof ReadFileResponseSchema> {
  const headSize = (offset > 0 ? 1 + varintSize(offset) : 0) + 1 + varintSize(data.byteLength);
  // Without the headroom (a reader that does not leave it), the generic encoder does the job.
  if (data.byteOffset < headSize) return { offset: BigInt(offset), data };
  const start = data.byteOffset - headSize;
  const message = new Uint8Array(data.buffer, start, headSize + data.byteLength);
  let at = 0;
  if (offset > 0) {
    message[at++] = OFFSET_TAG;
    at = writeVarint(message, at, offset);
  }
  message[at++] = DATA_TAG;
  writeVarint(message, at, data.byteLength);
  return new PreEncoded(message);
}
