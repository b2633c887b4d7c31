// Whole-process start-up: `tether run -- true` against `node -e 0`, plus what loading a gRPC
// client costs (the lean node:http2 client against @grpc/grpc-js, both bundled by esbuild).
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Benchmark, BenchContext, Subject } from "../benchmark.js";
import { spawnToExit, timeMs } from "../benchmark.js";

/** Bundles `entry` into one ESM file, as a shipped CLI would load it. */
async function bundle(entrySource: string, outfile: string, tmp: string): Promise<string | undefined> {
  let esbuild: typeof import("esbuild");
  try {
    // A computed name, so a bundler building this harness leaves esbuild (native) outside.
    const name = "esbuild";
    esbuild = (await import(name)) as typeof import("esbuild");
  } catch {
    return "esbuild is not installed (npm install)";
  }
  const entry = join(tmp, `${outfile}.entry.mjs`);
  await writeFile(entry, entrySource);
  await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "esm",
    outfile: join(tmp, outfile),
    logLevel: "silent",
    // CommonJS dependencies (grpc-js) call require() for Node built-ins inside an ESM bundle.
    banner: { js: 'import { createRequire as __cr } from "node:module"; const require = __cr(import.meta.url);' },
    nodePaths: [resolve("node_modules")],
  });
  return undefined;
}

function loadSubject(name: string, ctx: BenchContext, outfile: string, source: string): Subject {
  return {
    name,
    role: "limit",
    setup: () => bundle(source, outfile, ctx.tmp),
    sample: () => timeMs(() => spawnToExit(process.execPath, [join(ctx.tmp, outfile)])),
  };
}

export const processStart: Benchmark = {
  name: "process-start",
  title: "Whole-process start-up",
  unit: "ms",
  better: "lower",
  rounds: (quick) => (quick ? { warmup: 1, measured: 3 } : { warmup: 5, measured: 60 }),
  subjects(ctx: BenchContext): Subject[] {
    const cli = ctx.tether.cli;
    const lean = resolve("clients/environment/lean/lean-channel.ts");
    const processPb = resolve("gen/tether/exec/v1/process_pb.ts");
    const wire = resolve("clients/environment/lean/process-wire.ts");
    return [
      {
        name: "tether run -- true",
        role: "tether",
        setup: async () => (cli ? undefined : "no tether CLI built"),
        sample: () => timeMs(() => spawnToExit(cli!.runTrueArgv[0]!, cli!.runTrueArgv.slice(1))),
      },
      { name: "node -e 0", role: "peer", sample: () => timeMs(() => spawnToExit(process.execPath, ["-e", "0"])) },
      loadSubject("node + node:http2", ctx, "load-http2.mjs", `import "node:http2";\n`),
      loadSubject(
        "node + lean client + ProcessWire (bundled)",
        ctx,
        "load-lean-wire.mjs",
        `import { LeanChannel } from ${JSON.stringify(lean)};\nimport { ProcessWire } from ${JSON.stringify(wire)};\n` +
          `if (typeof LeanChannel !== "function" || !ProcessWire.start) process.exit(1);\n`,
      ),
      loadSubject(
        "node + @grpc/grpc-js + protobuf (bundled)",
        ctx,
        "load-grpc-js.mjs",
        `import * as grpc from "@grpc/grpc-js";\nimport { toBinary } from "@bufbuild/protobuf";\nimport { ProcessService } from ${JSON.stringify(processPb)};\n` +
          `if (!grpc.Client || !toBinary || !ProcessService.method.start) process.exit(1);\n`,
      ),
      { name: "ssh multiplexed `true` (whole client)", role: "peer", sample: () => timeMs(() => ctx.peer.run(["true"])) },
    ];
  },
  notes: () => ["the load rows are whole `node FILE` processes; subtract `node -e 0` for the load cost alone."],
};
