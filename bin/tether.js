#!/usr/bin/env node
// Entry point: runs the bundled CLI (built by `make build` into dist/).
import { main } from "../dist/tether.js";

await main(process.argv);
