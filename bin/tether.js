#!/usr/bin/env node
// Entry point: runs the bundled CLI (built by `make build` into dist/). CommonJS (see
// bin/package.json): node starts a CommonJS main file without its ES module loader, which
// `tether run` on an exec server never needs.
"use strict";

// `tether exec-server` runs under node flags of its own (a V8 heap size: see
// exec-server-node-flags.js), so it replaces this process with a node that has them: same pid,
// same fds, before any of the bundle loads. A flag list node would refuse is reported here,
// as the CLI reports a bad argument, instead of node's "bad option" and exit 9 after the swap.
if (process.argv[2] === "exec-server" && typeof process.execve === "function") {
  const { execServerNodeFlags } = require("./exec-server-node-flags.js");
  let nodeFlags;
  try {
    nodeFlags = execServerNodeFlags(process.argv, process.env, process.execArgv);
  } catch (err) {
    if (err?.code !== "INVALID_ARGUMENT") throw err;
    process.stderr.write(`tether: ${err.message} (INVALID_ARGUMENT)\n`);
    process.exit(2);
  }
  if (nodeFlags.length > 0) {
    process.execve(process.execPath, [process.execPath, ...process.execArgv, ...nodeFlags, ...process.argv.slice(1)], process.env);
  }
}

// `tether exec`: V8's code cache for what it loads (entry.ts enables it for the rest, a second
// call does nothing). NODE_DISABLE_COMPILE_CACHE=1 still turns it off.
if (process.argv[2] === "exec") require("node:module").enableCompileCache();

// A plain `tether exec [PROMPT]` goes straight to dist/exec-fast.cjs (what entry.ts would do,
// without loading dist/tether.cjs first: ≈ 150 KB with the lean run inside, ≈ 2-3 ms of CPU
// before the first model request). Anything else, or TETHER_LEAN=0, takes the entry.
const fast = process.argv[2] === "exec" && process.env.TETHER_LEAN !== "0" ? require("../dist/exec-fast.cjs") : undefined;
const plainExec = fast?.parseExecArgv(process.argv.slice(2));

// Held until main() settles: a wait that holds no handle of its own (a reply over a pipe
// that is unref'd) must not let node end the process early, with status 0.
const hold = setInterval(() => {}, 1 << 30);
(plainExec ? fast.execMain(plainExec.prompt, plainExec.flags) : require("../dist/tether.cjs").main(process.argv)).finally(() => clearInterval(hold));
