// Bundles the CLI (and the benchmarks) into dist/ with esbuild: one start-up path with
// no TypeScript loader. The full CLI is code split, so each command loads only what it
// uses. bin/tether.js loads dist/tether.cjs: the entry (clients/cli/entry.ts) with `tether
// run` on an exec server (the lean client) in the same file, as CommonJS, since every file
// node loads, and its ES module loader, cost that path start-up time.
import { build } from "esbuild";
import { existsSync, readFileSync } from "node:fs";
import { rename, rm, writeFile } from "node:fs/promises";
import { basename, isAbsolute, relative } from "node:path";

const started = performance.now();
// Built beside dist/ and swapped in whole, so a test running bin/tether.js meanwhile never sees half a dist/.
const staging = `dist.tmp-${process.pid}`;
await rm(staging, { recursive: true, force: true });
const common = {
  outdir: staging,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node24",
  sourcemap: true,
  // What stays in node_modules, and why: scripts/bundle-externals.json (test bundles read it too).
  external: JSON.parse(readFileSync(new URL("./bundle-externals.json", import.meta.url), "utf8")).external,
  banner: { js: "import { createRequire as __tetherCreateRequire } from 'node:module'; const require = __tetherCreateRequire(import.meta.url);" },
  logLevel: "warning",
};

// A plain `tether exec [PROMPT]` (entry.ts) runs from dist/exec-fast.cjs up to its first model
// request: one CommonJS file holding only what runs before that request, so node neither
// starts its ES module loader nor resolves, reads and links ≈ 27 chunks first (issue 15). What
// the exec path imports dynamically is loaded after the request (the environment and the exec
// core, the tools' zod parsers, config files' schema): those imports leave the file for
// dist/late/*.js, entries of the code-split build below, so the CLI's chunks are shared with
// everything else. Modules in both (TetherError, …) are two copies: tether-error.ts's brand
// keeps `instanceof TetherError` true across them.
/** The dynamic imports a plain exec takes before its first request: kept inside exec-fast.cjs. */
const EXEC_EARLY = [
  { importer: "agent-session.ts", path: "../agent/create-agent-client.js" },
  { importer: "agent-session.ts", path: "../../services/agent-server/default-agent-parts.js" },
  { importer: "create-agent-client.ts", path: "../../services/agent-server/default-agent-parts.js" },
  // --env unix://…: the thread's early exec session (lean client), which reads AGENTS.md.
  { importer: "thread-environment.ts", path: "../../clients/environment/early-session.js" },
];
/** dist/late/NAME.js (entry name) -> what it loads: a source file, or a package by name. */
const late = new Map();
const execFastSplit = {
  name: "tether-exec-fast",
  setup(b) {
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.kind !== "dynamic-import" || args.pluginData?.inner) return undefined;
      if (EXEC_EARLY.some((e) => e.importer === basename(args.importer) && e.path === args.path)) return undefined;
      const bare = !args.path.startsWith(".") && !isAbsolute(args.path);
      let name;
      let r;
      if (bare) name = `late/pkg/${args.path}`;
      else {
        r = await b.resolve(args.path, { resolveDir: args.resolveDir, kind: args.kind, pluginData: { inner: true } });
        if (r.errors.length > 0 || r.external) return undefined;
        name = `late/${relative(process.cwd(), r.path).replace(/\.[cm]?[jt]sx?$/, "")}`;
      }
      late.set(name, bare ? `tether-late-pkg:${args.path}` : r.path);
      return { path: `./${name}.js`, external: true };
    });
  },
};
await build({
  ...common,
  entryPoints: { "exec-fast": "clients/cli/exec/exec-main.ts" },
  outExtension: { ".js": ".cjs" },
  format: "cjs",
  banner: {},
  plugins: [execFastSplit],
});
const latePackages = {
  name: "tether-late-packages",
  setup(b) {
    b.onResolve({ filter: /^tether-late-pkg:/ }, (args) => ({ path: args.path.slice("tether-late-pkg:".length), namespace: "tether-late-pkg" }));
    b.onLoad({ filter: /.*/, namespace: "tether-late-pkg" }, (args) => ({ contents: `export * from ${JSON.stringify(args.path)};`, resolveDir: process.cwd(), loader: "js" }));
  },
};

const entryPoints = { main: "clients/cli/main.ts" };
for (const [name, source] of late) entryPoints[name] = source;
if (existsSync("bench/run.ts")) entryPoints["bench/run"] = "bench/run.ts";
await build({ ...common, entryPoints, splitting: true, plugins: [latePackages] });

/** Imports the lean run never takes (entry.ts calls it only when leanEligible() holds). */
const LEFT_OUT = [
  { importer: "run-command.ts", path: /^\.\/(env-run-target|sandbox-flags)\.js$/ },
  // The generated-descriptor codec: the CLI's calls all bring their own (process-wire.ts).
  { importer: "lean-channel.ts", path: /^@bufbuild\/protobuf$/ },
];
const startupPath = {
  name: "tether-startup-path",
  setup(b) {
    // The full CLI is loaded at run time from dist/, beside the entry.
    b.onResolve({ filter: /^\.\/main\.js$/ }, (args) => (basename(args.importer) === "entry.ts" ? { path: args.path, external: true } : undefined));
    // So is a plain exec's bundle: required (CommonJS), not imported, so no ES module loader starts.
    b.onResolve({ filter: /^\.\/exec\/exec-main\.js$/ }, (args) => (basename(args.importer) === "entry.ts" ? { path: "exec-fast", namespace: "exec-fast" } : undefined));
    b.onLoad({ filter: /.*/, namespace: "exec-fast" }, () => ({ contents: `module.exports = require("./exec-fast.cjs");`, loader: "js" }));
    b.onResolve({ filter: /^\.\/exec-fast\.cjs$/ }, (args) => ({ path: args.path, external: true }));
    b.onResolve({ filter: /^(\.\/(env-run-target|sandbox-flags)\.js|@bufbuild\/protobuf)$/ }, (args) =>
      LEFT_OUT.some((l) => l.importer === basename(args.importer) && l.path.test(args.path)) ? { path: args.path, namespace: "left-out" } : undefined,
    );
    // Should the lean run ever reach one, it fails saying so instead of loading half a CLI.
    b.onLoad({ filter: /.*/, namespace: "left-out" }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${args.path} is left out of dist/tether.cjs (scripts/build.mjs): run without the lean client (TETHER_LEAN=0)`)});`,
      loader: "js",
    }));
  },
};
// In CommonJS, the lean run's modules (node:http2 with them) load only when it runs.
await build({ ...common, entryPoints: { tether: "clients/cli/entry.ts" }, outExtension: { ".js": ".cjs" }, format: "cjs", banner: {}, plugins: [startupPath] });
// For ES modules that import the CLI (`import { main } from "dist/tether.js"`).
await writeFile(
  `${staging}/tether.js`,
  `import { createRequire } from "node:module";\nexport const { main } = createRequire(import.meta.url)("./tether.cjs");\n`,
);

await rm("dist.old", { recursive: true, force: true });
await rename("dist", "dist.old").catch(() => undefined);
await rename(staging, "dist");
await rm("dist.old", { recursive: true, force: true });
console.error(`build: dist/ in ${Math.round(performance.now() - started)} ms`);
