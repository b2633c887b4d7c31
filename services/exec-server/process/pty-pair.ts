// A pty pair whose master the exec server holds itself (node-pty's openpty), so a keystroke
// and its echo go Node <-> master <-> target, not through a relay in tether-launch and two
// more pipes (issue 18: two process hops per keystroke). The target opens the slave by path
// (tether-launch --pty-slave) as its controlling terminal.
import { closeSync, constants as fsConstants, openSync } from "node:fs";
import { createRequire } from "node:module";
import { ReadStream } from "node:tty";

interface PtyNative {
  open(cols: number, rows: number): { master: number; slave: number; pty: string };
  resize(fd: number, cols: number, rows: number): void;
}

let native: PtyNative | null | undefined;

/** node-pty's addon, or null where it cannot load (then the launcher relays, as before). */
function loadNative(): PtyNative | null {
  if (native === undefined) {
    try {
      const utils = createRequire(import.meta.url)("node-pty/lib/utils.js") as { loadNativeModule(name: string): { module: PtyNative } };
      native = utils.loadNativeModule("pty").module;
    } catch {
      native = null;
    }
  }
  return native;
}

export class PtyPair {
  /** The master: read for the terminal's output, written for its input. */
  readonly master: ReadStream;
  /** /dev/pts/N, for the target to open. */
  readonly slavePath: string;
  readonly #masterFd: number;
  #slaveFd: number | undefined;
  #closed = false;

  private constructor(masterFd: number, slaveFd: number, slavePath: string) {
    this.#masterFd = masterFd;
    this.#slaveFd = slaveFd;
    this.slavePath = slavePath;
    this.master = new ReadStream(masterFd);
    this.master.on("close", () => (this.#closed = true));
    // EIO once the last slave fd closed: that is how the output ends; 'close' follows.
    this.master.on("error", () => undefined);
  }

  /** Undefined when node-pty is not loadable here: the caller falls back to the launcher's pty. */
  static open(rows: number, cols: number): PtyPair | undefined {
    const pty = loadNative();
    if (pty === null) return undefined;
    const pair = pty.open(cols, rows);
    let slave: number;
    try {
      // openpty's fds are not close-on-exec and Node cannot set the flag: reopen the slave
      // (libuv opens with O_CLOEXEC) so no other child inherits it and holds back the EIO
      // that ends the output. The master cannot be reopened (that makes a new pair); the
      // launcher and the zygote close whatever leaked into them before anything else.
      slave = openSync(pair.pty, fsConstants.O_RDWR | fsConstants.O_NOCTTY);
    } catch (err) {
      closeSync(pair.master);
      throw err;
    } finally {
      closeSync(pair.slave);
    }
    return new PtyPair(pair.master, slave, pair.pty);
  }

  /**
   * Closes the exec server's slave fd once the target's tree is gone: from then on the master
   * reads EIO after the last byte, which ends the output. Until then it keeps the master from
   * reading EIO early: before the target opened the slave, or after it closed its fds but
   * before it exited (the read error closes the master and the kernel would SIGHUP it).
   */
  releaseSlave(): void {
    if (this.#slaveFd === undefined) return;
    closeSync(this.#slaveFd);
    this.#slaveFd = undefined;
  }

  /** TIOCSWINSZ on the master: the kernel sends SIGWINCH to the terminal's foreground group. */
  resize(rows: number, cols: number): void {
    if (this.#closed) return;
    loadNative()?.resize(this.#masterFd, cols, rows);
  }

  close(): void {
    this.releaseSlave();
    this.master.destroy();
  }
}
