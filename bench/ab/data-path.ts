// Issue 18's data path, measured in isolation: Attach throughput (Unix socket, TCP+TLS, lean
// client) against ssh stdout, and WriteFile / ReadFile against sftp, with the server's and
// this client's CPU per MiB. Iterating on one piece takes minutes with `make bench` (Codex's
// 1 GiB row alone runs 30 s a round); this runs the same subjects, alternating, at a size
// given on the command line. A measurement, not part of make bench.
// Run: esbuild bench/ab/data-path.ts --bundle --platform=node --format=esm --outfile=dist/ab-data-path.mjs
// (externals as scripts/build.mjs) && node dist/ab-data-path.mjs [--mib 256] [--file-mib 128] [--rounds 3] [--only stream,lean,tls,up,down]
// TETHER_AB_SERVER_NODE_OPTIONS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") goes to the exec servers.
import { readFileSync, readdirSync } from "node:fs";
import { mkdtemp, open, rm } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SshPeer, runProgram } from "../ssh-peer.js";
import { loadTetherTargets } from "../targets.js";
import { spawnCountingStdout } from "../benchmark.js";

/** User + system CPU of a process and its live descendants, in ms (10 ms ticks). */
function treeCpuMs(pid: number | undefined, depth = 0): number {
  if (pid === undefined || depth > 8) return 0;
  let own = 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    own = ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
  let children: number[] = [];
  try {
    children = readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").split(" ").filter(Boolean).map(Number));
  } catch {
    // no children file
  }
  return children.slice(0, 64).reduce((sum, c) => sum + treeCpuMs(c, depth + 1), own);
}

function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

interface Row {
  name: string;
  rates: number[];
  serverMs: number;
  clientMs: number;
  mib: number;
}

async function makeFile(path: string, size: number): Promise<void> {
  const fh = await open(path, "w");
  try {
    const block = randomBytes(1 << 20);
    for (let done = 0; done < size; done += block.length) await fh.write(block, 0, Math.min(block.length, size - done));
  } finally {
    await fh.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { mib: { type: "string", default: "256" }, "file-mib": { type: "string", default: "128" }, rounds: { type: "string", default: "3" }, only: { type: "string", default: "stream,lean,tls,up,down" } },
  });
  const n = Number(values.mib) << 20;
  const fileBytes = Number(values["file-mib"]) << 20;
  const rounds = Number(values.rounds);
  const only = new Set(values.only.split(","));
  const tmp = await mkdtemp(join(tmpdir(), "tether-ab-dp-"));
  const serverOptions = process.env.TETHER_AB_SERVER_NODE_OPTIONS;
  const savedOptions = process.env.NODE_OPTIONS;
  if (serverOptions) process.env.NODE_OPTIONS = serverOptions;
  // TETHER_AB_BASE_BIN: a second build (bin/tether.js of a copy) measured beside this one.
  // TETHER_AB_SERVER_NODE_ARGS / TETHER_AB_BASE_NODE_ARGS: node flags (e.g. V8 heap flags) for each set's server.
  process.env.TETHER_BENCH_SERVER_NODE_ARGS = process.env.TETHER_AB_SERVER_NODE_ARGS ?? "";
  const sets: Array<{ label: string; targets: Awaited<ReturnType<typeof loadTetherTargets>> }> = [{ label: "tether", targets: await loadTetherTargets({ tmp }) }];
  const baseBin = process.env.TETHER_AB_BASE_BIN;
  if (baseBin) {
    process.env.TETHER_BIN = baseBin;
    process.env.TETHER_BENCH_SERVER_NODE_ARGS = process.env.TETHER_AB_BASE_NODE_ARGS ?? "";
    sets.push({ label: "base", targets: await loadTetherTargets({ tmp: await mkdtemp(join(tmp, "base-")) }) });
    delete process.env.TETHER_BIN;
  }
  delete process.env.TETHER_BENCH_SERVER_NODE_ARGS;
  if (serverOptions) process.env.NODE_OPTIONS = savedOptions;
  const peer = await SshPeer.start({});
  const rows = new Map<string, Row>();
  const measure = async (name: string, mib: number, pid: number | undefined, run: () => Promise<unknown>) => {
    const row = rows.get(name) ?? { name, rates: [], serverMs: 0, clientMs: 0, mib: 0 };
    rows.set(name, row);
    const s0 = treeCpuMs(pid);
    const c0 = selfCpuMs();
    const t0 = performance.now();
    await run();
    const ms = performance.now() - t0;
    row.clientMs += selfCpuMs() - c0;
    row.serverMs += treeCpuMs(pid) - s0;
    row.mib += mib;
    row.rates.push(mib / (ms / 1000));
  };
  const source = join(tmp, "source");
  const target = join(tmp, "target");
  if (only.has("up") || only.has("down")) await makeFile(source, fileBytes);
  const head = ["head", "-c", String(n), "/dev/zero"];
  try {
    for (let r = 0; r < rounds; r++) {
      if (only.has("stream")) {
        for (const { label, targets } of sets) {
          const serverPid = targets.localServerPid;
          await measure(`stream ${label} unix`, n >> 20, serverPid, () => targets.local!.streamBytes(n));
          if (targets.tls && only.has("tls")) await measure(`stream ${label} TLS`, n >> 20, undefined, () => targets.tls!.streamBytes(n));
          if (only.has("lean")) await measure(`stream ${label} lean`, n >> 20, serverPid, () => targets.lean!.streamBytes(n));
        }
        await measure("stream ssh", n >> 20, undefined, () => spawnCountingStdout("ssh", peer.sshArgs(head)));
      }
      if (only.has("up")) {
        for (const { label, targets } of sets) {
          await rm(target, { force: true });
          await measure(`up ${label}`, fileBytes >> 20, targets.localServerPid, () => targets.local!.upload(source, target));
        }
        await rm(target, { force: true });
        await measure("up sftp", fileBytes >> 20, undefined, () => runProgram("sftp", peer.sftpArgs(), { input: `put ${source} ${target}\n` }));
      }
      if (only.has("down")) {
        for (const { label, targets } of sets) {
          await rm(target, { force: true });
          await measure(`down ${label}`, fileBytes >> 20, targets.localServerPid, () => targets.local!.download(source, target));
        }
        await rm(target, { force: true });
        await measure("down sftp", fileBytes >> 20, undefined, () => runProgram("sftp", peer.sftpArgs(), { input: `get ${source} ${target}\n` }));
      }
    }
  } finally {
    // Each server's peak and current RSS, to weigh a faster heap setting against its memory.
    for (const { label, targets } of sets) {
      const status = (() => {
        try {
          return readFileSync(`/proc/${targets.localServerPid}/status`, "utf8");
        } catch {
          return "";
        }
      })();
      const kib = (key: string) => Math.round(Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN) / 1024);
      process.stdout.write(`server ${label}: peak RSS ${kib("VmHWM")} MiB, RSS now ${kib("VmRSS")} MiB\n`);
    }
    await Promise.all([...sets.flatMap(({ targets }) => [targets.local?.close(), targets.inProcess?.close(), targets.tls?.close()]), peer.close()]);
    await rm(tmp, { recursive: true, force: true });
  }
  process.stdout.write(`| subject | MiB/s median | samples | server CPU ms/MiB | client CPU ms/MiB |\n|---|---|---|---|---|\n`);
  for (const row of rows.values()) {
    const server = row.name.includes("ssh") || row.name.includes("sftp") || row.name.includes("TLS") ? "-" : (row.serverMs / row.mib).toFixed(2);
    process.stdout.write(`| ${row.name} | ${median(row.rates).toFixed(0)} | ${row.rates.map((x) => x.toFixed(0)).join(" ")} | ${server} | ${(row.clientMs / row.mib).toFixed(2)} |\n`);
  }
}

await main();
