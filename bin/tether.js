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

// `tether exec` (or `e`, Codex's alias): V8's code cache for what it loads (entry.ts enables it
// for the rest, a second call does nothing). NODE_DISABLE_COMPILE_CACHE=1 still turns it off.
const execCommand = process.argv[2] === "exec" || process.argv[2] === "e";
if (execCommand) require("node:module").enableCompileCache();

// A plain `tether exec [PROMPT]` goes straight to dist/exec-fast.cjs (what entry.ts would do,
// without loading dist/tether.cjs first: ≈ 150 KB with the lean run inside, ≈ 2-3 ms of CPU
// before the first model request). Anything else, or TETHER_LEAN=0, takes the entry.
const fast = execCommand && process.env.TETHER_LEAN !== "0" ? loadBundle("exec-fast.cjs", "exec-fast") : undefined;
const plainExec = fast?.exports.parseExecArgv(process.argv.slice(2));
// Only a plain exec that reached its first model request makes the cache: `tether exec --help`
// or a run refused for a missing key would make one without the exec path in it (kept for good).
// The request is made by node's http client (a refused run never loads it).
if (plainExec) fast.keepCache(() => process.moduleLoadList.some((m) => m === "NativeModule http" || m === "NativeModule https"));
// `tether run` loads dist/tether.cjs (the entry and the lean client) with the same kind of cache,
// made only after a run that took the lean client to its command's exit status (entry.ts): the
// path issue 18 measures (`tether run --env unix://… -- true`), and the one worth caching.
const entry = plainExec ? undefined : process.argv[2] === "run" && process.env.TETHER_LEAN !== "0" ? loadBundle("tether.cjs", "run") : { exports: require("../dist/tether.cjs") };
if (entry?.keepCache) entry.keepCache(() => entry.exports.leanRunEnded());

/**
 * dist/NAME, as require() would load it, with a V8 code cache made after it ran: node's compile
 * cache (enableCompileCache) is made when a file is compiled, so it holds only the top-level
 * code, and every function the path calls was compiled again on every start (`tether exec`:
 * ≈ 5-7 ms of CPU before the first model request, issue 15). The cache is written at exit when
 * there was none or V8 refused it (another node, other flags) and `worthIt()` says the run went
 * down the path the cache is for, beside node's compile cache, named by `tag`, the bundle's path,
 * size, mtime and inode (V8 itself checks only the length), so a rebuilt bundle never meets an
 * old cache. NODE_DISABLE_COMPILE_CACHE=1: plain require().
 */
function loadBundle(name, tag) {
  const path = require("node:path");
  const file = path.join(__dirname, "..", "dist", name);
  if (process.env.NODE_DISABLE_COMPILE_CACHE === "1") return { exports: require(file), keepCache: () => undefined };
  const fs = require("node:fs");
  const vm = require("node:vm");
  const source = fs.readFileSync(file, "utf8");
  const st = fs.statSync(file);
  // This user's own directory inside node's (a temp dir every user of the machine shares).
  const uid = typeof process.getuid === "function" ? process.getuid() : "";
  const dir = path.join(process.env.NODE_COMPILE_CACHE || path.join(require("node:os").tmpdir(), "node-compile-cache"), `tether-${uid}`);
  // Per copy of tether (each checkout or install keeps its own; a rebuild replaces its own only).
  let where = 5381;
  for (let i = 0; i < file.length; i++) where = ((where * 33) ^ file.charCodeAt(i)) >>> 0;
  const prefix = `tether-${tag}-${process.version}-${process.arch}-${where.toString(16)}-`;
  const cacheFile = path.join(dir, `${prefix}${st.size}-${Math.trunc(st.mtimeMs)}-${st.ino}.bin`);
  let cachedData;
  try {
    // Code is only taken from a cache no one else could have written: V8 runs what it holds.
    if (ownedAlone(fs.statSync(dir)) && ownedAlone(fs.statSync(cacheFile))) cachedData = fs.readFileSync(cacheFile);
  } catch {
    cachedData = undefined; // none yet: made at exit
  }
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    cachedData,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const keepCache = (worthIt) => {
    if (cachedData !== undefined && !script.cachedDataRejected) return;
    process.once("exit", () => {
      if (worthIt()) save();
    });
  };
  const save = () => {
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (!ownedAlone(fs.statSync(dir))) return; // someone else's: never read either
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
      fs.renameSync(tmp, cacheFile);
      // Caches of earlier builds of the bundle are of no use any more.
      for (const name of fs.readdirSync(dir)) if (name.startsWith(prefix) && name.endsWith(".bin") && path.join(dir, name) !== cacheFile) fs.rmSync(path.join(dir, name), { force: true });
    } catch {
      // No cache this time (a read-only temp dir): the next start compiles again.
    }
  };
  // Node warns once, on the bundle's first import(), that this loader is experimental: it is
  // node's own ES module loader (what require() would give the file), and the warning tells a
  // user of the CLI nothing (`tether run --help` or a local run import the split CLI this way).
  const emitWarning = process.emitWarning;
  process.emitWarning = function (warning, ...rest) {
    if (typeof warning === "string" && warning.startsWith("vm.USE_MAIN_CONTEXT_DEFAULT_LOADER ")) return;
    return emitWarning.call(this, warning, ...rest);
  };
  const module = { exports: {} };
  script.runInThisContext()(module.exports, require("node:module").createRequire(file), module, file, path.dirname(file));
  return { exports: module.exports, keepCache };
}

/** This user's, and writable by no one else (a cache V8 would run code from). */
function ownedAlone(st) {
  return (typeof process.getuid !== "function" || st.uid === process.getuid()) && (st.mode & 0o022) === 0;
}

// Held until main() settles: a wait that holds no handle of its own (a reply over a pipe
// that is unref'd) must not let node end the process early, with status 0.
const hold = setInterval(() => {}, 1 << 30);
(plainExec ? fast.exports.execMain(plainExec.prompt, plainExec.flags, plainExec.resume) : entry.exports.main(process.argv)).finally(() => clearInterval(hold));
