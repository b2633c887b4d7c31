// Makes a Unix socket path ready to bind: its directory must exist, a stale socket left
// by a dead server is removed, but a live server's socket or any other file is never touched.
import net from "node:net";
import { lstat, rm, stat } from "node:fs/promises";
import path from "node:path";
import { ErrorCode, TetherError, errnoCode } from "./tether-error.js";

/** Resolves whether something accepts connections on the socket (false: refused, a stale file). */
function listening(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(file);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    // ECONNREFUSED (nobody listens) or anything else that stops a connect: not live.
    socket.once("error", () => resolve(false));
  });
}

export async function prepareSocketPath(file: string): Promise<void> {
  const dir = path.dirname(file);
  const dirInfo = await stat(dir).catch((err: unknown) => {
    if (errnoCode(err) === "ENOENT") return undefined;
    throw TetherError.from(err, `checking the socket directory ${dir}`);
  });
  if (!dirInfo) throw new TetherError(ErrorCode.NotFound, `cannot listen on unix://${file}: directory ${dir} does not exist; create it or pick another path`);
  if (!dirInfo.isDirectory()) throw new TetherError(ErrorCode.FailedPrecondition, `cannot listen on unix://${file}: ${dir} is not a directory`);

  const info = await lstat(file).catch((err: unknown) => {
    if (errnoCode(err) === "ENOENT") return undefined;
    throw TetherError.from(err, `checking the socket path ${file}`);
  });
  if (!info) return;
  if (!info.isSocket()) {
    throw new TetherError(ErrorCode.FailedPrecondition, `cannot listen on unix://${file}: a file that is not a socket is there; remove it or pick another path`);
  }
  if (await listening(file)) {
    throw new TetherError(ErrorCode.AlreadyExists, `cannot listen on unix://${file}: another server is listening there; stop it or pick another path`);
  }
  await rm(file, { force: true });
}
