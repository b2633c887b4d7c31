#!/usr/bin/env node
// Entry point: runs the bundled CLI (built by `make build` into dist/). CommonJS (see
// bin/package.json): node starts a CommonJS main file without its ES module loader, which
// `tether run` on an exec server never needs.
"use strict";

// `tether exec-server` streams large buffers through a small JS heap (≈ 15 MB): with V8's
// defaults it spent ≈ half its CPU in mark-compacts (≈ 190 per 3 GiB moved; 29 with these
// flags; server CPU per MiB roughly halved for output and download, bench/ab/data-path.ts).
// Heap limits are fixed when V8 starts (NODE_OPTIONS refuses these flags and
// v8.setFlagsFromString is too late), so the server replaces this process with a node that
// has them: same pid, same fds, before any of the bundle loads. TETHER_EXEC_SERVER_NODE_FLAGS
// overrides the list ("" keeps V8's defaults).
const EXEC_SERVER_NODE_FLAGS = ["--initial-old-space-size=128"];

function execServerNodeFlags(argv) {
  if (argv[2] !== "exec-server" || typeof process.execve !== "function") return [];
  const custom = process.env.TETHER_EXEC_SERVER_NODE_FLAGS;
  const wanted = custom === undefined ? EXEC_SERVER_NODE_FLAGS : custom.split(" ").filter(Boolean).slice(0, 32);
  // Already there (this is the replaced process, or the caller passed them): no loop.
  const have = new Set(process.execArgv.map((f) => f.split("=")[0]));
  return wanted.every((f) => have.has(f.split("=")[0])) ? [] : wanted;
}

const nodeFlags = execServerNodeFlags(process.argv);
if (nodeFlags.length > 0) {
  process.execve(process.execPath, [process.execPath, ...process.execArgv, ...nodeFlags, ...process.argv.slice(1)], process.env);
}

// `tether exec`: V8's code cache for dist/tether.cjs itself too (≈ 150 KB with the lean run
// inside, compiled from source on every start otherwise; entry.ts enables it for the rest, a
// second call does nothing). NODE_DISABLE_COMPILE_CACHE=1 still turns it off.
if (process.argv[2] === "exec") require("node:module").enableCompileCache();

// Held until main() settles: a wait that holds no handle of its own (a reply over a pipe
// that is unref'd) must not let node end the process early, with status 0.
const hold = setInterval(() => {}, 1 << 30);
require("../dist/tether.cjs")
  .main(process.argv)
  .finally(() => clearInterval(hold));
