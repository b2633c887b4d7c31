#!/usr/bin/env node
// Entry point: runs the bundled CLI (built by `make build` into dist/). CommonJS (see
// bin/package.json): node starts a CommonJS main file without its ES module loader, which
// `tether run` on an exec server never needs.
"use strict";
require("../dist/tether.cjs").main(process.argv);
