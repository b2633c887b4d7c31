// Runs `tether exec-server` as its own OS process for load and fault tests, so the
// tests can measure its RSS and open fds, SIGKILL it and restart it. The CLI is
// bundled privately (build/test-bundles/), never into the shared dist/, so parallel
// builds by others cannot pull it out from under a running test.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { build } from "esbuild";
import bundleExternals from "../../scripts/bundle-externals.json" with { type: "json" };

const repoRoot = resolve(import.meta.dirname, "../..");
let bundled: Promise<string> | undefined;

/** Bundles clients/cli/main.ts once per test process; resolves to the entry script. */
function bundleCli(): Promise<string> {
  bundled ??= (async () => {
    const outDir = join(repoRoot, "build", "test-bundles", `load-${process.pid}`);
    mkdirSync(outDir, { recursive: true });
    const outfile = join(outDir, "tether.mjs");
    await build({
      stdin: { contents: 'import { main } from "./clients/cli/main.ts";\nawait main(process.argv);\n', resolveDir: repoRoot, loader: "ts", sourcefile: "load-entry.ts" },
      outfile,
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node24",
      external: bundleExternals.external,
      // Ink imports react-devtools-core only when DEV=true, and it is not installed. dist/ keeps it
      // external in a code-split chunk; this single-file bundle would hoist that import to the
      // top and fail at load, so it gets a stub that throws only if that path is ever taken.
      plugins: [
        {
          name: "no-react-devtools",
          setup(b) {
            b.onResolve({ filter: /^react-devtools-core$/ }, () => ({ path: "react-devtools-core", namespace: "stub" }));
            b.onLoad({ filter: /.*/, namespace: "stub" }, () => ({ contents: 'throw new Error("react-devtools-core is not bundled (Ink DEV mode)");', loader: "js" }));
          },
        },
      ],
      banner: { js: "import { createRequire as __loadCreateRequire } from 'node:module'; const require = __loadCreateRequire(import.meta.url);" },
      logLevel: "warning",
    });
    return outfile;
  })();
  return bundled;
}

export interface ServerProcess extends AsyncDisposable {
  readonly pid: number;
  readonly url: string;
  readonly socketPath: string;
  readonly child: ChildProcess;
  /** Resolves with the exit once the server process is gone. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Tail of stderr, for failure messages. */
  stderr(): string;
  /** Sends the signal and waits for the process to be gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Memory after a full GC (needs `heapProbe`). */
  memory(): Promise<ProbedMemory>;
}

/** process.memoryUsage() of the server right after a full GC, in bytes. */
export interface ProbedMemory {
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  rss: number;
}

export interface ServerProcessOptions {
  /** Directory for the socket; a fresh temp dir by default. */
  dir?: string;
  /** Extra CLI flags, e.g. ["--sandbox", "read-only"]. */
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Flags for the server's node, e.g. ["--max-old-space-size=64"] to tell a leak from lazy GC. */
  nodeArgs?: string[];
  /** Preload heap-probe.mjs, so memory() can ask for the heap after a GC. */
  heapProbe?: boolean;
}

export async function startServerProcess(options: ServerProcessOptions = {}): Promise<ServerProcess> {
  const entry = await bundleCli();
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await realpath(await mkdtemp(join(tmpdir(), "tether-load-"))));
  const socketPath = join(dir, "exec.sock");
  const probe = options.heapProbe ? ["--expose-gc", "--import", join(import.meta.dirname, "heap-probe.mjs")] : [];
  const child = spawn(process.execPath, [...probe, ...(options.nodeArgs ?? []), entry, "exec-server", "--listen", `unix://${socketPath}`, "--cwd", dir, ...(options.args ?? [])], {
    stdio: ["ignore", "pipe", "pipe"],
    env: options.env ?? process.env,
  });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (t: string) => {
    stderr = (stderr + t).slice(-8192);
  });
  const probeLines = createInterface({ input: child.stderr });
  const memory = () =>
    new Promise<ProbedMemory>((res, rej) => {
      if (!options.heapProbe) return rej(new Error("memory() needs the server started with heapProbe"));
      const onLine = (line: string) => {
        if (!line.startsWith("heap-probe ")) return;
        probeLines.off("line", onLine);
        res(JSON.parse(line.slice("heap-probe ".length)) as ProbedMemory);
      };
      probeLines.on("line", onLine);
      void exited.then((e) => rej(new Error(`exec server exited (${JSON.stringify(e)}) before its heap probe answered; stderr: ${stderr}`)));
      child.kill("SIGUSR2");
    });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once("exit", (code, signal) => res({ code, signal })));
  const url = await new Promise<string>((res, rej) => {
    const lines = createInterface({ input: child.stdout });
    lines.once("line", (line) => {
      const m = /^listening (\S+)$/.exec(line);
      if (m) res(m[1]!);
      else rej(new Error(`exec server said ${JSON.stringify(line)} instead of "listening <url>"; stderr: ${stderr}`));
    });
    void exited.then((e) => rej(new Error(`exec server exited (${JSON.stringify(e)}) before listening; stderr: ${stderr}`)));
  });
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
    if (ownDir) await rm(dir, { recursive: true, force: true });
  };
  return { pid: child.pid!, url, socketPath, child, exited, stderr: () => stderr, stop, memory, [Symbol.asyncDispose]: () => stop() };
}

/** Open file descriptors of a process (Linux /proc). */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** What a process's fds point at, for leak reports. */
export function fdTargets(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      // Closed between readdir and readlink: it is no longer open, so not a leak.
      return "(closed)";
    }
  });
}

/** Resident set size in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Every live descendant of `pid` (any depth), by walking /proc's parent links. */
export function descendants(pid: number): Array<{ pid: number; comm: string }> {
  const parent = new Map<number, number>();
  const comm = new Map<number, string>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const fields = stat.slice(close + 2).split(" ");
      parent.set(Number(name), Number(fields[1]));
      comm.set(Number(name), stat.slice(stat.indexOf("(") + 1, close));
    } catch {
      // The process exited while we scanned: it is nobody's descendant any more.
    }
  }
  const out: Array<{ pid: number; comm: string }> = [];
  for (const [p] of parent) {
    for (let q = parent.get(p); q !== undefined && q > 1; q = parent.get(q)) {
      if (q === pid) {
        out.push({ pid: p, comm: comm.get(p) ?? "?" });
        break;
      }
    }
  }
  return out;
}

/**
 * The server's descendants that sessions own, as "pid comm": all but its tether-zygote, which
 * lives as long as the server, and the spare launchers it keeps in fresh pids cgroups
 * (prejoined-launchers.ts; named tether-spare until given a request). What the zygote forked
 * for a request still counts.
 */
export function sessionChildren(serverPid: number): string[] {
  return descendants(serverPid)
    .filter((d) => d.comm !== "tether-zygote" && d.comm !== "tether-spare")
    .map((d) => `${d.pid} ${d.comm}`);
}

/** Processes whose command line contains `marker` (to find orphans re-parented to init). */
export function processesWithMarker(marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, "utf8").includes(marker)) out.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** Polls a condition owned by another process (which sends us no event for it); `left` says what remains on timeout. */
export async function until(what: string, ok: () => boolean | Promise<boolean>, left: () => string = () => "", limitMs = 30_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${left() && `; left: ${left()}`}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
