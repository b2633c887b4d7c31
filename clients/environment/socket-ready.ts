// Waits for a server's Unix socket to appear in a directory this host can see (a container's
// bind mount included), woken by inotify rather than a polling loop.
import { watch } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";

/** A backstop only: inotify reports a bind-mounted directory's changes, this covers filesystems that do not. */
const BACKSTOP_POLL_MS = 100;

export function waitForSocket(socketPath: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const name = path.basename(socketPath);
    let done = false;
    const finish = (err?: unknown) => {
      if (done) return;
      done = true;
      watcher.close();
      clearInterval(backstop);
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (err === undefined) resolve();
      else reject(TetherError.from(err));
    };
    const look = () => {
      stat(socketPath).then(
        (s) => {
          if (s.isSocket()) finish();
        },
        () => undefined, // ENOENT until the server binds: the next event looks again
      );
    };
    // Watching starts before the first look, so a socket made in between is not missed.
    const watcher = watch(path.dirname(socketPath), (_event, filename) => {
      if (filename === null || filename === name) look();
    });
    watcher.on("error", (err) => finish(TetherError.from(err, `watching ${path.dirname(socketPath)} for the exec server's socket`)));
    const backstop = setInterval(look, BACKSTOP_POLL_MS);
    const timer = setTimeout(
      () => finish(new TetherError(ErrorCode.DeadlineExceeded, `the exec server did not create ${socketPath} in time (raise startTimeoutMs if the machine is slow)`)),
      timeoutMs,
    );
    const onAbort = () => finish(signal?.reason);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    look();
  });
}
