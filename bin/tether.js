#!/usr/bin/env node
// Entry point: runs the bundled CLI (built by `make build` into dist/). CommonJS (see
// bin/package.json): node starts a CommonJS main file without its ES module loader, which
// `tether run` on an exec server never needs.
"use strict";
// Held until main() settles: a wait that holds no handle of its own (a reply over a pipe
// that is unref'd) must not let node end the process early, with status 0.
const hold = setInterval(() => {}, 1 << 30);
require("../dist/tether.cjs")
  .main(process.argv)
  .finally(() => clearInterval(hold));
