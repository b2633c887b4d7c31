// A WriteFileRequest data message encoded by hand: the generic encoder copies each chunk
// into a zero-filled buffer of its own first, which costs an upload a third of its client
// CPU. A small header in front of the caller's bytes is all the message is.
import { PreEncoded, varintSize, writeVarint } from "../../services/common/pre-encoded.js";

// WriteFileRequest.data: field 2, length-delimited.
const DATA_TAG = (2 << 3) | 2;

export function encodeWriteData(data: Uint8Array): PreEncoded {
  const head = new Uint8Array(1 + varintSize(data.byteLength));
  head[0] = DATA_TAG;
  writeVarint(head, 1, data.byteLength);
  return new PreEncoded(head, data);
}
