// A private OpenSSH server on 127.0.0.1 for benchmarks: its own host key, client key,
// authorized_keys and config in a temp dir, so nothing of the machine's ssh set-up is used
// or changed. Offers multiplexed (ControlMaster) and fresh-connection clients.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdtemp, mkdir, readFile, rm, writeFile, chmod } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { ErrorCode, TetherError } from "../services/common/tether-error.js";

const SSHD = "/usr/sbin/sshd";
const HOST_ALIAS = "tether-bench";
const MAX_CAPTURED_STDOUT = 1024 * 1024;

export interface SshPeerOptions {
  /** Passed as `Ciphers` to the client (e.g. "aes128-gcm@openssh.com"); the default is OpenSSH's. */
  cipher?: string;
  signal?: AbortSignal;
}

export interface SshResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs a program to completion; rejects with its stderr when it exits non-zero. */
export async function runProgram(file: string, args: string[], opts: { input?: Buffer | string; signal?: AbortSignal } = {}): Promise<SshResult> {
  const child = spawn(file, args, { stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"], signal: opts.signal });
  // Callers read short answers (an id, a list); more than this is a bug, not data.
  const out: Buffer[] = [];
  let outBytes = 0;
  let err = "";
  child.stdout!.on("data", (b: Buffer) => {
    outBytes += b.length;
    if (outBytes <= MAX_CAPTURED_STDOUT) out.push(b);
  });
  child.stderr!.on("data", (b: Buffer) => {
    // Bounded: only the tail of a chatty stderr is worth reporting.
    err = (err + b.toString()).slice(-4096);
  });
  if (child.stdin) {
    // A program may exit without reading its input (EPIPE); its exit code tells what happened.
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input);
  }
  const [code] = (await once(child, "close")) as [number | null];
  const result = { code, stdout: Buffer.concat(out), stderr: err };
  if (outBytes > MAX_CAPTURED_STDOUT) {
    throw new TetherError(ErrorCode.ResourceExhausted, `${file} wrote ${outBytes} bytes to stdout; runProgram keeps ${MAX_CAPTURED_STDOUT}`);
  }
  if (code !== 0) {
    throw new TetherError(ErrorCode.Internal, `${file} ${args.join(" ")} exited with ${code}: ${err.trim()}`);
  }
  return result;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const addr = server.address();
  server.close();
  if (addr === null || typeof addr === "string") throw new TetherError(ErrorCode.Internal, "could not pick a free port");
  return addr.port;
}

/** Waits until sshd says it listens, or fails with what it printed. */
async function waitListening(child: ChildProcess, port: number): Promise<void> {
  let log = "";
  await new Promise<void>((resolve, reject) => {
    const onData = (b: Buffer) => {
      log = (log + b.toString()).slice(-4096);
      if (log.includes(`Server listening on 127.0.0.1 port ${port}`)) {
        child.stderr?.off("data", onData);
        child.off("exit", onExit);
        // Keep draining stderr so sshd never blocks on a full pipe.
        child.stderr?.resume();
        resolve();
      }
    };
    const onExit = (code: number | null) =>
      reject(new TetherError(ErrorCode.Unavailable, `sshd exited (${code}) before listening: ${log.trim()} — is openssh-server installed (scripts/setup.sh)?`));
    child.stderr?.on("data", onData);
    child.once("exit", onExit);
  });
}

export class SshPeer implements AsyncDisposable {
  private closed = false;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly sshd: ChildProcess,
    private readonly clientConfig: string,
    private readonly cipher: string | undefined,
  ) {
    process.on("exit", this.onProcessExit);
  }

  /** If the harness dies without close(), still stop the master, sshd and the temp dir. */
  private readonly onProcessExit = () => {
    if (this.closed) return;
    spawnSync("ssh", ["-F", this.clientConfig, "-O", "exit", HOST_ALIAS], { stdio: "ignore" });
    this.sshd.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  };

  static async start(opts: SshPeerOptions = {}): Promise<SshPeer> {
    const dir = await mkdtemp(join(tmpdir(), "tether-sshd-"));
    try {
      // sshd insists on its privilege-separation directory.
      await mkdir("/run/sshd", { recursive: true, mode: 0o755 });
      await runProgram("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "host_key")]);
      await runProgram("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "client_key")]);
      const clientPub = await readFile(join(dir, "client_key.pub"), "utf8");
      const hostPub = (await readFile(join(dir, "host_key.pub"), "utf8")).trim().split(" ").slice(0, 2).join(" ");
      await writeFile(join(dir, "authorized_keys"), clientPub, { mode: 0o600 });
      const port = await freePort();
      await writeFile(join(dir, "known_hosts"), `[127.0.0.1]:${port} ${hostPub}\n`);
      const user = userInfo().username;
      await writeFile(
        join(dir, "sshd_config"),
        [
          `ListenAddress 127.0.0.1:${port}`,
          `HostKey ${join(dir, "host_key")}`,
          `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
          `PidFile ${join(dir, "sshd.pid")}`,
          "UsePAM no",
          // The temp dir is not owned the way StrictModes wants for a home directory.
          "StrictModes no",
          "PermitRootLogin prohibit-password",
          "PasswordAuthentication no",
          "KbdInteractiveAuthentication no",
          "PrintMotd no",
          "PrintLastLog no",
          "UseDNS no",
          `AllowUsers ${user}`,
          "Subsystem sftp /usr/lib/openssh/sftp-server",
          // sshd runs every command through the user's login shell. Debian's bash reads
          // ~/.bashrc when started by sshd only while SHLVL says it is the first shell
          // (SSH_SOURCE_BASHRC, shell_level < 2); SHLVL=1 skips it, so we time ssh, not
          // the user's shell set-up.
          "SetEnv SHLVL=1",
          "MaxSessions 64",
          "MaxStartups 64",
          "LogLevel INFO",
          "",
        ].join("\n"),
      );
      await writeFile(
        join(dir, "ssh_config"),
        [
          `Host ${HOST_ALIAS}`,
          "  HostName 127.0.0.1",
          `  Port ${port}`,
          `  User ${user}`,
          `  IdentityFile ${join(dir, "client_key")}`,
          "  IdentitiesOnly yes",
          `  UserKnownHostsFile ${join(dir, "known_hosts")}`,
          "  StrictHostKeyChecking yes",
          "  BatchMode yes",
          "  LogLevel ERROR",
          `  ControlPath ${join(dir, "cm-%C")}`,
          "  ControlMaster auto",
          "  ControlPersist yes",
          "",
        ].join("\n"),
      );
      await chmod(join(dir, "client_key"), 0o600);
      const sshd = spawn(SSHD, ["-f", join(dir, "sshd_config"), "-D", "-e"], { stdio: ["ignore", "ignore", "pipe"] });
      await waitListening(sshd, port);
      const peer = new SshPeer(dir, port, sshd, join(dir, "ssh_config"), opts.cipher);
      // The first multiplexed call starts the persistent master.
      await peer.run(["true"]);
      return peer;
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw TetherError.from(err, "starting the private sshd");
    }
  }

  /** ssh argv (without the program) for one remote command. */
  sshArgs(command: string[], opts: { fresh?: boolean; tty?: boolean } = {}): string[] {
    const args = ["-F", this.clientConfig];
    if (this.cipher) args.push("-c", this.cipher);
    if (opts.fresh) args.push("-o", "ControlMaster=no", "-o", "ControlPath=none");
    args.push(opts.tty ? "-tt" : "-T", HOST_ALIAS, "--", ...command);
    return args;
  }

  /** sftp argv (without the program); sftp reads its commands from stdin with `-b -`. */
  sftpArgs(): string[] {
    const args = ["-F", this.clientConfig, "-q", "-b", "-"];
    if (this.cipher) args.push("-c", this.cipher);
    args.push(HOST_ALIAS);
    return args;
  }

  /** Runs `command` remotely and waits for it; multiplexed unless `fresh`. */
  run(command: string[], opts: { fresh?: boolean; input?: Buffer | string; signal?: AbortSignal } = {}): Promise<SshResult> {
    return runProgram("ssh", this.sshArgs(command, opts), opts);
  }

  /** Starts ssh with pipes to the caller; the caller owns the child. */
  spawn(command: string[], opts: { fresh?: boolean; tty?: boolean } = {}): ChildProcess {
    return spawn("ssh", this.sshArgs(command, opts), { stdio: ["pipe", "pipe", "pipe"] });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    process.off("exit", this.onProcessExit);
    try {
      await runProgram("ssh", ["-F", this.clientConfig, "-O", "exit", HOST_ALIAS]);
    } catch {
      // The master may already be gone; killing sshd below ends it anyway.
    }
    if (this.sshd.exitCode === null && this.sshd.signalCode === null) {
      const exited = once(this.sshd, "exit");
      this.sshd.kill("SIGTERM");
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
