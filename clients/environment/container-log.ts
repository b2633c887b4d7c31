// The last lines a container wrote, for errors that explain why its exec server is gone.
import type Dockerode from "dockerode";
import { TetherError } from "../../services/common/tether-error.js";

const LOG_TAIL_LINES = 20;

/** The last lines of a container's stdout and stderr (Docker multiplexes them in 8-byte framed records). */
export async function logTail(container: Dockerode.Container): Promise<string> {
  try {
    const raw = await container.logs({ stdout: true, stderr: true, tail: LOG_TAIL_LINES, follow: false });
    const text: string[] = [];
    let off = 0;
    while (off + 8 <= raw.length) {
      const size = raw.readUInt32BE(off + 4);
      text.push(raw.subarray(off + 8, off + 8 + size).toString("utf8"));
      off += 8 + size;
    }
    const out = (off === 0 ? raw.toString("utf8") : text.join("")).trimEnd();
    return out === "" ? "(the log is empty)" : out;
  } catch (err) {
    return `(could not read the log: ${TetherError.from(err).message})`;
  }
}
