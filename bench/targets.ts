// What a benchmark needs from tether, as a small interface: the peer side (OpenSSH, docker,
// local limits) is written against real programs; the tether side is any Environment
// (environment-target.ts), found by loadTetherTargets.
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { TetherError } from "../services/common/tether-error.js";
import { EnvironmentTarget } from "./environment-target.js";
import { ExecServerProcess } from "./exec-server-process.js";
import { LeanTarget, type LeanRunTarget } from "./lean-target.js";

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
  /** The exec core in the benchmark's own process (no socket). */
  inProcess?: TetherTarget;
  /** An exec server on 127.0.0.1 over TCP with TLS and a bearer token. */
  tls?: TetherTarget;
  /** A local image the container benchmarks may start (a daemon answers). */
  containerImage?: string;
  cli?: TetherCli;
  /** The CLI's run path (lean client, hand-written codecs) against the same exec server. */
  lean?: LeanRunTarget;
  /** The pid of the exec server behind `local` and `lean` (for server CPU per MiB). */
  localServerPid?: number;
  /** Why a target is missing, printed under the tables. */
  missing: string[];
}

/**
 * Builds the tether targets that exist in this build: an exec server started from the bundled
 * CLI (TETHER_BIN, default bin/tether.js running dist/; `make build` writes it) and reached through the
 * Environment client, and the CLI itself for start-up. What is missing is reported, and the
 * peer rows still run.
 */
export async function loadTetherTargets(opts: { tmp: string }): Promise<TetherTargets> {
  const missing: string[] = [];
  // bin/tether.js runs the bundle in dist/; both must be there.
  const bin = resolve(process.env.TETHER_BIN ?? "bin/tether.js");
  const bundle = process.env.TETHER_BIN ? bin : resolve("dist/tether.js");
  if (!existsSync(bin) || !existsSync(bundle)) {
    missing.push(`tether targets: ${bundle} not found — run \`make build\` (or set TETHER_BIN to a tether executable)`);
    return { missing };
  }
  const server = await ExecServerProcess.start(bin, opts.tmp);
  try {
    const { openEnvironment } = await import("../clients/environment/open-environment.js");
    const env = await openEnvironment(server.url);
    const lean = new LeanTarget(server.url);
    const local = new EnvironmentTarget("exec server (unix socket)", env, async () => {
      await lean.close();
      await server.close();
    });
    const targets: TetherTargets = { local, lean, localServerPid: server.pid, cli: { runTrueArgv: [process.execPath, bin, "run", "--env", server.url, "--", "true"] }, missing };
    await addOptionalTargets(targets, bin, opts.tmp);
    return targets;
  } catch (err) {
    await server.close();
    throw TetherError.from(err, "connecting the benchmark to its exec server");
  }
}

/** In-process, TLS and container targets; each one that cannot be built says why in `missing`. */
async function addOptionalTargets(targets: TetherTargets, bin: string, tmp: string): Promise<void> {
  const { LocalEnvironment } = await import("../clients/environment/local-environment.js");
  targets.inProcess = new EnvironmentTarget("in-process", await LocalEnvironment.create({ defaultCwd: tmp }));
  try {
    const { createTestCa } = await import("../test/support/test-ca.js");
    const ca = await createTestCa(join(tmp, "ca"), ["127.0.0.1"]);
    const tokenFile = join(tmp, "token");
    await writeFile(tokenFile, "bench-token\n", { mode: 0o600 });
    const server = await ExecServerProcess.start(bin, tmp, {
      listen: "tcp://127.0.0.1:0",
      args: ["--token-file", tokenFile, "--tls-cert", ca.serverCert, "--tls-key", ca.serverKey],
    });
    const { GrpcEnvironment } = await import("../clients/environment/grpc-environment.js");
    const port = Number(new URL(server.url.replace(/^grpcs/, "https")).port);
    const env = await GrpcEnvironment.connect({ kind: "grpcs", host: "127.0.0.1", port }, { token: "bench-token", caPem: ca.caCertPem });
    targets.tls = new EnvironmentTarget("exec server (TCP+TLS, token)", env, () => server.close());
  } catch (err) {
    targets.missing.push(`TLS target: ${TetherError.from(err).message}`);
  }
  const image = process.env.TETHER_BENCH_IMAGE ?? "tether-exec-server:latest";
  const { ensureDocker, dockerImageExists } = await import("../test/support/dockerd.js");
  const docker = await ensureDocker();
  if (!docker.ok) targets.missing.push(`container target: ${docker.reason}`);
  else if (!(await dockerImageExists(docker.socketPath, image))) targets.missing.push(`container target: image ${image} is not built (make image)`);
  else targets.containerImage = image;
}
