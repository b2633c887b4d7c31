// $TETHER_HOME/AGENTS.override.md, else $TETHER_HOME/AGENTS.md: the user's own instructions for
// every project, as Codex reads $CODEX_HOME's (the override is for a while, leaving AGENTS.md
// as it is; an empty one gives way, as in Codex). Read on the agent's machine (the home is the
// agent's, not the environment's), first bytes only: capped like project instructions.
import path from "node:path";
import { errnoCode } from "../../common/tether-error.js";
import { close, fstat, open, read } from "../../common/fs-async.js";
import { DEFAULT_PROJECT_INSTRUCTIONS_BYTES, INSTRUCTIONS_FILE, OVERRIDE_INSTRUCTIONS_FILE } from "./project-instructions.js";

/** The file under a header, "" when there is none, or a note saying why it could not be read. */
export async function loadPersonalInstructions(tetherHome: string, maxBytes = DEFAULT_PROJECT_INSTRUCTIONS_BYTES): Promise<string> {
  // Both at once (local reads, but the first model request waits on them); the override wins.
  const [override, plain] = await Promise.all([readOne(path.join(tetherHome, OVERRIDE_INSTRUCTIONS_FILE), maxBytes), readOne(path.join(tetherHome, INSTRUCTIONS_FILE), maxBytes)]);
  return override !== "" ? override : plain;
}

async function readOne(file: string, maxBytes: number): Promise<string> {
  let fd: number;
  try {
    fd = await open(file, "r");
  } catch (err) {
    return errnoCode(err) === "ENOENT" ? "" : `(cannot read ${file}: ${(err as Error).message})`;
  }
  try {
    const info = await fstat(fd);
    if (!info.isFile()) return "";
    const buffer = Buffer.alloc(Math.min(info.size, maxBytes));
    let got = 0;
    // Bounded: at most maxBytes, whatever the file's size (a read may return less than asked).
    while (got < buffer.length) {
      const { bytesRead } = await read(fd, buffer, got, buffer.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    const text = buffer.subarray(0, got).toString("utf8").trim();
    if (text === "") return "";
    const cut = info.size - got;
    return `# Personal instructions from ${file}\n\n${text}${cut > 0 ? `\n\n[… ${cut} more bytes of ${file} cut: instructions are capped at ${maxBytes} bytes]` : ""}`;
  } catch (err) {
    return `(cannot read ${file}: ${(err as Error).message})`;
  } finally {
    await close(fd).catch(() => undefined);
  }
}
