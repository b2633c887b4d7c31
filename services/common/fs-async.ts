// Promise forms of the node:fs calls made on `tether exec`'s way to its first model request
// (and by the modules it loads on the way), without node:fs/promises: loading that module
// (FileHandle, its streams, a readline interface) costs ≈ 1.5 ms of CPU at start-up (issue
// 15), and dist/exec-fast.cjs loads nothing it does not call. The same system calls with the
// same errors (errno code and message): node:fs's callback forms, promisified. Descriptors
// (open/read/write/close) instead of FileHandles: close them in a finally.
import fs from "node:fs";
import { promisify } from "node:util";

export const appendFile = promisify(fs.appendFile);
export const chmod = promisify(fs.chmod);
export const close = promisify(fs.close);
export const fstat = promisify(fs.fstat);
export const mkdir = promisify(fs.mkdir);
export const mkdtemp = promisify(fs.mkdtemp);
export const open = promisify(fs.open);
export const read = promisify(fs.read);
export const readdir = promisify(fs.readdir);
/** Typed as node:fs/promises' readFile (the callback form takes the same `signal` option; no FileHandle). */
export const readFile = promisify(fs.readFile) as typeof import("node:fs/promises").readFile;
export const rename = promisify(fs.rename);
export const rm = promisify(fs.rm);
export const stat = promisify(fs.stat);
export const truncate = promisify(fs.truncate);
export const write = promisify(fs.write);
export const writeFile = promisify(fs.writeFile);
