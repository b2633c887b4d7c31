// The node flags `tether exec-server` runs under, checked before bin/tether.js replaces its
// process with a node that has them: a flag node refuses would otherwise end the server with
// node's own "bad option" and exit 9, after the replacement, where nothing can explain it.
// CommonJS and free of the bundle: it runs before any of dist/ loads.
"use strict";

const { spawnSync } = require("node:child_process");

// `tether exec-server` streams large buffers through a small JS heap (≈ 15 MB): with V8's
// defaults it spent ≈ half its CPU in mark-compacts (≈ 190 per 3 GiB moved; 29 with these
// flags; server CPU per MiB roughly halved for output and download, bench/ab/data-path.ts).
// Heap limits are fixed when V8 starts (NODE_OPTIONS refuses these flags and
// v8.setFlagsFromString is too late), so the server replaces the process with a node that
// has them. TETHER_EXEC_SERVER_NODE_FLAGS overrides the list ("" keeps V8's defaults).
const EXEC_SERVER_NODE_FLAGS = ["--initial-old-space-size=128"];
const ENV = "TETHER_EXEC_SERVER_NODE_FLAGS";
const MAX_FLAGS = 32;
// One `--name` or `--name=value` word: anything else would reach node's command line as a
// script path (`foo`), a short option (`-r x`) or an argument of the previous flag.
const FLAG = /^--[A-Za-z0-9][A-Za-z0-9_-]*(=\S*)?$/;

/** A flag list node would not start with; `message` says which flag and what to do. */
class NodeFlagsError extends Error {
  constructor(message) {
    super(message);
    this.name = "NodeFlagsError";
    this.code = "INVALID_ARGUMENT";
  }
}

/**
 * The flags to re-execute node with for this command line ([] when none are needed), the
 * custom ones checked first. Throws NodeFlagsError when TETHER_EXEC_SERVER_NODE_FLAGS is off.
 * `probe` asks node whether it starts with the flags (injected by tests).
 */
function execServerNodeFlags(argv, env, execArgv, probe = probeNode) {
  if (argv[2] !== "exec-server") return [];
  const custom = env[ENV];
  const wanted = custom === undefined ? EXEC_SERVER_NODE_FLAGS : custom.split(/\s+/).filter(Boolean);
  // Already there (this is the replaced process, or the caller passed them): no loop.
  const have = new Set(execArgv.map((f) => f.split("=")[0]));
  if (wanted.every((f) => have.has(f.split("=")[0]))) return [];
  if (custom !== undefined) checkNodeFlags(wanted, probe);
  return wanted;
}

/** Throws NodeFlagsError unless each flag is one `--name[=value]` word and node starts with them all. */
function checkNodeFlags(flags, probe = probeNode) {
  const fix = `fix ${ENV} or unset it (${ENV}="" runs the exec server with V8's defaults)`;
  if (flags.length > MAX_FLAGS) throw new NodeFlagsError(`${ENV} has ${flags.length} flags, more than ${MAX_FLAGS}: ${fix}`);
  const odd = flags.find((f) => !FLAG.test(f));
  if (odd !== undefined) throw new NodeFlagsError(`${ENV} has ${JSON.stringify(odd)}, which is not a --name or --name=value flag: ${fix}`);
  const refused = probe(flags);
  if (refused !== undefined) throw new NodeFlagsError(`${ENV}="${flags.join(" ")}": node refuses it (${refused}): ${fix}`);
}

/**
 * Asks node to parse the flags (`--version`: parsed, refused with exit 9 if bad, but nothing runs:
 * no --inspect-brk wait, no --require); undefined when it accepts them, else what it said.
 * Node's option table (and V8's, which takes the heap flags) is not readable in-process:
 * process.allowedNodeEnvironmentFlags lists only what NODE_OPTIONS accepts. One node start
 * (≈ 4 ms: 3.8 ms median of 15 here), paid only when the variable names flags of its own.
 */
function probeNode(flags) {
  const r = spawnSync(process.execPath, [...flags, "--version"], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8", timeout: 30_000 });
  if (r.status === 0) return undefined;
  if (r.error) return `${process.execPath} could not be started: ${r.error.message}`;
  // Node's first words are the reason ("bad option: --x", "illegal value for flag ..."); the rest is its help hint.
  const said = r.stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !/^Try --help/.test(l))
    .slice(0, 2)
    .join("; ");
  return `${said || "no message"}; exit ${r.status ?? r.signal}`;
}

module.exports = { EXEC_SERVER_NODE_FLAGS, NodeFlagsError, checkNodeFlags, execServerNodeFlags };
