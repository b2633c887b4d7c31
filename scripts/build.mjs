// Bundles the CLI (and the benchmarks) into dist/ with esbuild: one start-up path with
// no TypeScript loader, and code split so `tether run` loads only what it uses.
import { build } from "esbuild";
import { existsSync } from "node:fs";
import { rename, rm } from "node:fs/promises";

const started = performance.now();
// Built beside dist/ and swapped in whole, so a test running bin/tether.js meanwhile never sees half a dist/.
const staging = `dist.tmp-${process.pid}`;
await rm(staging, { recursive: true, force: true });
const entryPoints = { tether: "clients/cli/main.ts" };
if (existsSync("bench/run.ts")) entryPoints["bench/run"] = "bench/run.ts";
await build({
  entryPoints,
  outdir: staging,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: true,
  // Native addons and Docker's client (with its optional ssh transport) stay in node_modules.
  // @grpc/reflection reads its .proto files next to itself at run time, and must share grpc-js with us.
  external: ["node-pty", "dockerode", "ssh2", "cpu-features", "testcontainers", "@grpc/reflection", "@grpc/grpc-js"],
  banner: { js: "import { createRequire as __tetherCreateRequire } from 'node:module'; const require = __tetherCreateRequire(import.meta.url);" },
  logLevel: "warning",
});
await rm("dist.old", { recursive: true, force: true });
await rename("dist", "dist.old").catch(() => undefined);
await rename(staging, "dist");
await rm("dist.old", { recursive: true, force: true });
console.error(`build: dist/ in ${Math.round(performance.now() - started)} ms`);
