// What a benchmark needs from tether, as a small interface: the peer side (OpenSSH, docker,
// local limits) is written against real programs, and the tether side only has to fill this
// in once an exec server and its client exist (see loadTetherTargets).

/** A live keystroke-echo session: a PTY running `cat` in raw mode, no local echo. */
export interface EchoSession extends AsyncDisposable {
  /** Writes one byte and resolves when it comes back. */
  roundTrip(byte: number): Promise<void>;
  close(): Promise<void>;
}

/** One tether environment (in-process, exec server over a Unix socket, container, remote). */
export interface TetherTarget extends AsyncDisposable {
  readonly name: string;
  /** Starts `/bin/true` through the exec server and resolves when its exit is known. */
  runTrue(): Promise<void>;
  /** Runs `head -c n /dev/zero` (pipes), reads all output; resolves with the bytes received. */
  streamBytes(n: number): Promise<number>;
  /** Opens a PTY running `stty raw -echo; exec cat`, ready for round trips. */
  openEcho(): Promise<EchoSession>;
  /** Copies a local file into the environment (FileSystem WriteFile), and back (ReadFile). */
  upload(localPath: string, remotePath: string): Promise<void>;
  download(remotePath: string, localPath: string): Promise<void>;
  close(): Promise<void>;
}

/** The whole CLI as a process, for start-up cost (`tether run -- true`). */
export interface TetherCli {
  /** argv (program first) that runs `true` through tether and exits with its code. */
  runTrueArgv: string[];
}

export interface TetherTargets {
  /** An exec server on this machine, reached over its Unix socket. */
  local?: TetherTarget;
  /** An exec server inside a container (compared with `docker run` / `docker exec`). */
  container?: TetherTarget;
  cli?: TetherCli;
  /** Why a target is missing, printed under the tables. */
  missing: string[];
}

/**
 * Builds the tether targets that exist in this build. The exec server and its client are
 * being built alongside this harness; until they land every tether row is reported as
 * skipped with the reason below, and the peer rows still run.
 */
export async function loadTetherTargets(): Promise<TetherTargets> {
  const missing: string[] = [];
  missing.push("tether targets: not wired yet — fill loadTetherTargets() in bench/targets.ts once services/exec-server and clients/environment land");
  return { missing };
}
