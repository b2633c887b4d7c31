// Project instructions of a `local` thread, read with node:fs (fs-async.ts) instead of through the thread's
// environment: the thread's first model request needs them, and reading them through the
// environment would load the exec core (and grpc-js) first. Equivalent: a local environment's
// exec core runs in this process, as this user, on this host's file system, and a session's
// sandbox limits reads only in the scratch directories (/tmp, /var/tmp, /run outside the cwd),
// where a .git or AGENTS.md is not the user's project anyway (a /tmp/.git would make them differ);
// stat follows symlinks as the environment's stat does, and a missing file is NotFound either way.
import { close, fstat, open, read, stat } from "../../common/fs-async.js";
import type { FileInfo } from "../../../gen/tether/exec/v1/filesystem_pb.js";
import { FileType } from "../../common/wire-enums.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import type { InstructionFiles } from "./project-instructions.js";

const CHUNK = 64 * 1024;

export const localInstructionFiles: InstructionFiles = {
  async stat(path, opts) {
    const info = await stat(path).catch((err: unknown) => { throw fsError(err, path); });
    opts?.signal?.throwIfAborted();
    const type = info.isFile() ? FileType.FILE : info.isDirectory() ? FileType.DIRECTORY : info.isSymbolicLink() ? FileType.SYMLINK : FileType.OTHER;
    return { type, size: BigInt(info.size) };
  },
  readFile(path, opts) {
    let resolveInfo!: (info: Pick<FileInfo, "type" | "size">) => void;
    let rejectInfo!: (err: unknown) => void;
    const info = new Promise<Pick<FileInfo, "type" | "size">>((res, rej) => ((resolveInfo = res), (rejectInfo = rej)));
    info.catch(() => undefined); // a caller that only reads the chunks sees the error there
    return {
      info,
      chunks: (async function* () {
        let fd: number | undefined;
        try {
          fd = await open(path, "r").catch((err: unknown) => { throw fsError(err, path); });
          const st = await fstat(fd);
          // As an exec server's ReadFile: only a regular file is read.
          if (!st.isFile()) throw new TetherError(ErrorCode.InvalidArgument, `cannot read ${path}: it is not a regular file`);
          resolveInfo({ type: FileType.FILE, size: BigInt(st.size) });
          let left = opts?.length ?? Number.POSITIVE_INFINITY;
          while (left > 0) {
            opts?.signal?.throwIfAborted();
            const buf = Buffer.alloc(Math.min(CHUNK, left));
            const { bytesRead } = await read(fd, buf, 0, buf.length, null);
            if (bytesRead === 0) return;
            left -= bytesRead;
            yield buf.subarray(0, bytesRead);
          }
        } catch (err) {
          rejectInfo(err);
          throw err;
        } finally {
          if (fd !== undefined) await close(fd);
        }
      })(),
    };
  },
};

function fsError(err: unknown, path: string): TetherError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT" || code === "ENOTDIR") return new TetherError(ErrorCode.NotFound, `${path} does not exist`);
  if (code === "EACCES" || code === "EPERM") return new TetherError(ErrorCode.PermissionDenied, `${path}: permission denied`);
  return TetherError.from(err, path);
}
