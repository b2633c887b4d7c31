// A/B for issue 14: the exec services served by grpc-js (what tether ships) vs connect-node's
// adapter on node:http2, same handlers, same ExecCore, same grpc-js client, one run, servers
// in child processes. Prints exec RTT (start /bin/true + attach to the end), stream throughput
// (256 MiB of stdout through Attach) and file transfer (64 MiB WriteFile + ReadFile).
// Run: esbuild bench/ab/connect-vs-grpc-js.ts --bundle --platform=node --format=esm --outfile=dist/ab.mjs
// (externals as scripts/build.mjs) && node dist/ab.mjs. A measurement, not part of make bench.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import * as http2 from "node:http2";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fromBinary } from "@bufbuild/protobuf";
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { createConnection } from "../../clients/environment/grpc-connection.js";
import { EnvironmentService } from "../../gen/tether/exec/v1/environment_pb.js";
import { FileSystemService } from "../../gen/tether/exec/v1/filesystem_pb.js";
import { ProcessService } from "../../gen/tether/exec/v1/process_pb.js";
import { SessionService } from "../../gen/tether/exec/v1/session_pb.js";
import { PreEncoded } from "../../services/common/pre-encoded.js";
import { ExecCore } from "../../services/exec-server/exec-core.js";
import { startExecServer } from "../../services/exec-server/grpc/exec-server.js";
import { fileSystemHandlers } from "../../services/exec-server/grpc/filesystem-handlers.js";
import { processHandlers } from "../../services/exec-server/grpc/process-handlers.js";
import { sessionHandlers } from "../../services/exec-server/grpc/session-handlers.js";

type AnyHandlers = Record<string, (req: unknown, ctx: unknown) => unknown>;

/** Our handlers under connect: the context bridged, PreEncoded answers decoded (connect only takes messages). */
function adapt(service: GenService<never>, handlers: AnyHandlers): Record<string, unknown> {
  const impl: Record<string, unknown> = {};
  for (const method of service.methods) {
    const h = handlers[method.localName]!.bind(handlers);
    const out = (res: unknown) => (res instanceof PreEncoded ? fromBinary(method.output, res.bytes) : res);
    const ctxOf = (ctx: HandlerContext) => ({ signal: ctx.signal, metadata: { get: (k: string) => [ctx.requestHeader.get(k) ?? ""].filter(Boolean) }, peer: "", method: method.name });
    impl[method.localName] =
      method.methodKind === "unary" || method.methodKind === "client_streaming"
        ? async (req: unknown, ctx: HandlerContext) => out(await h(req, ctxOf(ctx)))
        : async function* (req: unknown, ctx: HandlerContext) {
            for await (const res of h(req, ctxOf(ctx)) as AsyncIterable<unknown>) yield out(res);
          };
  }
  return impl;
}

async function serve(kind: string, socket: string): Promise<void> {
  const core = await ExecCore.create({ defaultCwd: path.dirname(socket) });
  if (kind === "grpc-js") {
    await startExecServer(core, { listen: `unix://${socket}` });
  } else {
    const handler = connectNodeAdapter({
      grpc: true,
      connect: false,
      grpcWeb: false,
      routes: (router: ConnectRouter) => {
        router.service(ProcessService, adapt(ProcessService as never, processHandlers(core) as never));
        router.service(SessionService, adapt(SessionService as never, sessionHandlers(core) as never));
        router.service(EnvironmentService, { getInfo: async () => core.facts });
        router.service(FileSystemService, adapt(FileSystemService as never, fileSystemHandlers(core.files, (id) => core.filePolicyFor(id)) as never));
      },
    });
    const server = http2.createServer({ settings: { initialWindowSize: 4 << 20 } }, handler);
    server.on("session", (s) => s.once("connect", () => s.setLocalWindowSize(16 << 20)));
    await new Promise<void>((resolve) => server.listen(socket, resolve));
  }
  process.stdout.write("ready\n");
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)]!;

async function measure(kind: string): Promise<Record<string, number>> {
  const dir = await mkdtemp(path.join(tmpdir(), "tether-ab-"));
  const socket = path.join(dir, "s.sock");
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, "--serve", kind, socket], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve) => createInterface({ input: child.stdout }).once("line", () => resolve()));
  const c = createConnection({ kind: "unix", path: socket });
  let n = 0;
  const runToEnd = async (argv: string[]) => {
    const processId = `ab-${n++}`;
    await c.processes.start({ processId, spec: { argv, output: { overflow: 1 } } });
    let bytes = 0;
    for await (const ev of c.processes.attach({ processId })) if (ev.event.case === "output") bytes += ev.event.value.data.byteLength;
    return bytes;
  };
  try {
    for (let i = 0; i < 20; i++) await runToEnd(["/bin/true"]);
    const rtt: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      await runToEnd(["/bin/true"]);
      rtt.push(performance.now() - t0);
    }
    const streamBytes = 256 << 20;
    let t0 = performance.now();
    const got = await runToEnd(["head", "-c", String(streamBytes), "/dev/zero"]);
    const streamMiBs = got / (1 << 20) / ((performance.now() - t0) / 1000);
    const fileBytes = 64 << 20;
    const data = Buffer.alloc(fileBytes, 7);
    const file = path.join(dir, "f.bin");
    t0 = performance.now();
    await c.files.writeFile(
      (async function* () {
        yield { part: { case: "header" as const, value: { path: file, explicitEnd: true } } };
        for (let off = 0; off < fileBytes; off += 1 << 20) yield { part: { case: "data" as const, value: data.subarray(off, off + (1 << 20)) } };
        yield { part: { case: "end" as const, value: { size: BigInt(fileBytes) } } };
      })(),
    );
    const upMiBs = 64 / ((performance.now() - t0) / 1000);
    t0 = performance.now();
    let read = 0;
    for await (const m of c.files.readFile({ path: file })) read += m.data.byteLength;
    const downMiBs = read / (1 << 20) / ((performance.now() - t0) / 1000);
    return { rttP50: pct(rtt, 0.5), rttP90: pct(rtt, 0.9), streamMiBs, upMiBs, downMiBs };
  } finally {
    c.close();
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--serve") {
  await serve(process.argv[3]!, process.argv[4]!);
} else {
  for (const kind of ["grpc-js", "connect-node", "grpc-js", "connect-node"]) {
    const r = await measure(kind);
    console.log(
      `${kind.padEnd(13)} exec RTT p50 ${r.rttP50!.toFixed(2)} ms p90 ${r.rttP90!.toFixed(2)} ms | stream ${r.streamMiBs!.toFixed(0)} MiB/s | WriteFile ${r.upMiBs!.toFixed(0)} MiB/s | ReadFile ${r.downMiBs!.toFixed(0)} MiB/s`,
    );
  }
}
