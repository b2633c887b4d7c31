// Exec server cold start: spawning `tether exec-server` until its first answered RPC, and until
// a first command ran through it. Peers: a fresh sshd until a first `ssh true` on a new
// connection (the classic remote-exec endpoint); limits: `node -e 0` (no Node server can start
// faster) and a bare grpc-js server answering one unary call (Node plus tether's transport).
// Every server says when it listens (tether and grpc-js on stdout, sshd on stderr); the client
// starts then, so no subject pays a polling interval.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import type * as grpc from "@grpc/grpc-js";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import type { Benchmark, BenchContext, Subject } from "../benchmark.js";
import { spawnToExit, timeMs } from "../benchmark.js";
import { EnvironmentTarget } from "../environment-target.js";
import { runProgram } from "../ssh-peer.js";

/** Spawns a server and resolves once `ready` matches its output (stdout, or stderr for sshd). */
async function startServer(file: string, args: string[], ready: RegExp, from: "stdout" | "stderr"): Promise<ChildProcess> {
  const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"] });
  let seen = "";
  await new Promise<void>((res, rej) => {
    const onData = (b: Buffer) => {
      seen = (seen + b.toString()).slice(-4096);
      if (ready.test(seen)) {
        child[from].off("data", onData);
        child.off("exit", onExit);
        res();
      }
    };
    const onExit = (code: number | null) => rej(new TetherError(ErrorCode.Unavailable, `${file} exited (${code}) before it listened: ${seen.trim()}`));
    child[from].on("data", onData);
    child.once("exit", onExit);
  });
  child.stdout.resume();
  child.stderr.resume();
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  await exited;
}

/** Times `start` then `firstUse`; the server is stopped after the clock stops. */
async function timeColdStart(start: () => Promise<ChildProcess>, firstUse: () => Promise<void>): Promise<number> {
  let child: ChildProcess | undefined;
  try {
    return await timeMs(async () => {
      child = await start();
      await firstUse();
    });
  } finally {
    if (child) await stop(child);
  }
}

/** A grpc-js server with one pass-through unary method: what any grpc-js exec server pays before its own code. */
const BARE_GRPC_SERVER = `
const grpc = require("@grpc/grpc-js");
const id = (b) => b;
const server = new grpc.Server();
server.addService({ ping: { path: "/bench.Bare/Ping", requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
  { ping: (_call, cb) => cb(null, Buffer.alloc(0)) });
server.bindAsync("unix://" + process.argv[1], grpc.ServerCredentials.createInsecure(), (err) => { if (err) throw err; console.log("listening"); });
process.on("SIGTERM", () => server.forceShutdown());
`;

async function bareUnary(socket: string): Promise<void> {
  const grpcJs = await import("@grpc/grpc-js");
  const client = new grpcJs.Client(`unix://${socket}`, grpcJs.credentials.createInsecure());
  try {
    await new Promise<void>((res, rej) =>
      client.makeUnaryRequest("/bench.Bare/Ping", (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), (err: grpc.ServiceError | null) => (err ? rej(err) : res())),
    );
  } finally {
    client.close();
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  const { port } = server.address() as { port: number };
  await new Promise((res) => server.close(res));
  return port;
}

/** A second sshd beside the benchmark's own: its config with another port, and a client config to match. */
async function coldSshd(ctx: BenchContext): Promise<{ sshdArgs: string[]; sshArgs: string[] }> {
  const port = await freePort();
  const dir = ctx.peer.dir;
  const sshdConfig = join(ctx.tmp, "cold-sshd_config");
  const sshConfig = join(ctx.tmp, "cold-ssh_config");
  const knownHosts = join(ctx.tmp, "cold-known_hosts");
  const original = await readFile(join(dir, "sshd_config"), "utf8");
  await writeFile(sshdConfig, original.replace(/^ListenAddress .*$/m, `ListenAddress 127.0.0.1:${port}`).replace(/^PidFile .*$/m, `PidFile ${join(ctx.tmp, "cold-sshd.pid")}`));
  const hostPub = (await readFile(join(dir, "host_key.pub"), "utf8")).trim().split(" ").slice(0, 2).join(" ");
  await writeFile(knownHosts, `[127.0.0.1]:${port} ${hostPub}\n`);
  const client = (await readFile(join(dir, "ssh_config"), "utf8"))
    .replace(/^(\s*)Port .*$/m, `$1Port ${port}`)
    .replace(/^(\s*)UserKnownHostsFile .*$/m, `$1UserKnownHostsFile ${knownHosts}`)
    .replace(/^(\s*)ControlMaster .*$/m, "$1ControlMaster no")
    .replace(/^(\s*)ControlPath .*$/m, "$1ControlPath none")
    .replace(/^(\s*)ControlPersist .*$/m, "");
  await writeFile(sshConfig, client);
  const host = /^Host (\S+)/m.exec(client)?.[1] ?? "";
  return { sshdArgs: ["-f", sshdConfig, "-D", "-e"], sshArgs: ["-F", sshConfig, "-T", host, "--", "true"] };
}

export const serverStart: Benchmark = {
  name: "server-start",
  title: "Exec server cold start to first answer",
  unit: "ms",
  better: "lower",
  rounds: (quick) => (quick ? { warmup: 1, measured: 3 } : { warmup: 3, measured: 40 }),
  subjects(ctx: BenchContext): Subject[] {
    const bin = resolve(process.env.TETHER_BIN ?? "bin/tether.js");
    const socket = join(ctx.tmp, "server-start.sock");
    const tetherServer = () => startServer(process.execPath, [bin, "exec-server", "--listen", `unix://${socket}`, "--cwd", ctx.tmp], /^listening /m, "stdout");
    const noBin = async () => (existsSync(bin) ? undefined : `${bin} not found (make build)`);
    const connect = async () => {
      const { GrpcEnvironment } = await import("../../clients/environment/grpc-environment.js");
      return GrpcEnvironment.connect({ kind: "unix", path: socket });
    };
    let ssh: { sshdArgs: string[]; sshArgs: string[] } | undefined;
    return [
      {
        name: "tether exec-server: spawn → first answered RPC (OpenSession)",
        role: "tether",
        setup: noBin,
        sample: () => timeColdStart(tetherServer, async () => (await connect()).close()),
      },
      {
        name: "tether exec-server: spawn → `true` run through it",
        role: "tether",
        setup: noBin,
        sample: () =>
          timeColdStart(tetherServer, async () => {
            const env = await connect();
            try {
              await new EnvironmentTarget("cold", env).runTrue();
            } finally {
              await env.close();
            }
          }),
      },
      {
        name: "sshd: start → first `ssh true` (new connection)",
        role: "peer",
        async setup() {
          ssh = await coldSshd(ctx);
          return undefined;
        },
        sample: () =>
          timeColdStart(
            () => startServer("/usr/sbin/sshd", ssh!.sshdArgs, /Server listening on 127\.0\.0\.1/, "stderr"),
            async () => void (await runProgram("ssh", ssh!.sshArgs)),
          ),
      },
      {
        name: "bare grpc-js server: spawn → first answered unary",
        role: "limit",
        sample: () => timeColdStart(() => startServer(process.execPath, ["-e", BARE_GRPC_SERVER, socket], /^listening/m, "stdout"), () => bareUnary(socket)),
      },
      {
        name: "node -e 0 (spawn to exit)",
        role: "limit",
        sample: () => timeMs(() => spawnToExit(process.execPath, ["-e", "0"])),
      },
    ];
  },
};
