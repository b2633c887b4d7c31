// A second network namespace joined to ours by a veth pair: a stand-in for a remote VM that
// tests reach over a real IP link, can cut (linkDown) and restore (linkUp). Needs root.
import { type ChildProcess, execFile, spawn, type SpawnOptions } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";

const execFileAsync = promisify(execFile);

export interface NetnsHost extends AsyncDisposable {
  /** The namespace name (`ip netns exec NAME ...`). */
  name: string;
  /** The namespace's side of the link, e.g. 10.213.X.2: where its servers are reached. */
  address: string;
  /** Our side of the link, e.g. 10.213.X.1: where the namespace reaches us. */
  hostAddress: string;
  /** Our side's interface name. */
  hostInterface: string;
  /** Runs argv inside the namespace; the ChildProcess is argv itself (ip netns exec execs it). */
  exec(argv: string[], opts?: SpawnOptions): ChildProcess;
  /** Cuts the link both ways without resetting connections, like a pulled cable. */
  linkDown(): Promise<void>;
  linkUp(): Promise<void>;
  /** Kills everything running in the namespace and deletes it. Idempotent. */
  close(): Promise<void>;
}

export interface NetnsHostOptions {
  /** Namespace name; default `tether-test-<pid>-<n>`, which stale-run cleanup recognises. */
  name?: string;
}

const NAME_PREFIX = "tether-test-";
const STALE_NAME = /^tether-test-(\d+)-\d+$/;
const STALE_LINK = /^tt[hn]([0-9a-z]+)-[0-9a-z]+$/;
// Marks our fallback routes so cleanup removes only those.
const GUARD_METRIC = 4213;
// 10.213.0.0/16 holds 16384 /30 blocks; each worker starts at its own stretch of 8.
const BLOCKS = 16384;
const CAP_NET_ADMIN = 12n;
const CAP_SYS_ADMIN = 21n;

let sequence = 0;

/** Whether this process can create network namespaces, and why not. */
export function netnsAvailable(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== "linux") return { ok: false, reason: `network namespaces need Linux, not ${process.platform}` };
  if (!findIp()) return { ok: false, reason: "the `ip` command is missing: install iproute2 (scripts/setup.sh does)" };
  const caps = effectiveCapabilities();
  const has = (bit: bigint): boolean => caps !== undefined && ((caps >> bit) & 1n) === 1n;
  if (!has(CAP_SYS_ADMIN) || !has(CAP_NET_ADMIN)) {
    return { ok: false, reason: "creating network namespaces needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN): run the tests as root" };
  }
  return { ok: true };
}

/** Creates a namespace with `lo` up and a /30 veth link to ours; no default route inside. */
export async function createNetnsHost(options: NetnsHostOptions = {}): Promise<NetnsHost> {
  const available = netnsAvailable();
  if (!available.ok) throw new TetherError(ErrorCode.FailedPrecondition, available.reason);
  await removeStaleNamespaces();

  const seq = sequence++;
  const name = options.name ?? `${NAME_PREFIX}${process.pid}-${seq}`;
  if ((await listNamespaces()).includes(name)) {
    throw new TetherError(ErrorCode.AlreadyExists, `network namespace ${name} exists: pick another name or delete it with 'ip netns del ${name}'`);
  }
  // Interface names hold 15 bytes: the pid in base 36, then "-" (no base-36 digit, so the
  // pid parses back for stale cleanup), then the sequence.
  const tag = `${process.pid.toString(36)}-${seq.toString(36)}`;
  const hostInterface = `tth${tag}`;
  const peerInterface = `ttn${tag}`;
  const block = await freeBlock(process.pid, seq);
  const [hostAddress, address, prefix] = blockAddresses(block);

  const steps: string[][] = [
    ["netns", "add", name],
    ["link", "add", hostInterface, "type", "veth", "peer", "name", peerInterface, "netns", name],
    ["addr", "add", `${hostAddress}/30`, "dev", hostInterface],
    ["link", "set", hostInterface, "up"],
    ["-n", name, "link", "set", "lo", "up"],
    ["-n", name, "addr", "add", `${address}/30`, "dev", peerInterface],
    ["-n", name, "link", "set", peerInterface, "up"],
    // When the link's own route goes away, this one answers "unreachable" instead of
    // letting packets for the namespace leak out through our default route.
    ["route", "replace", "unreachable", prefix, "metric", String(GUARD_METRIC)],
  ];
  try {
    for (const args of steps) await ip(args);
  } catch (err) {
    await destroy(name, hostInterface, prefix).catch((cleanupErr: unknown) => {
      console.warn(`netns-host: cleanup after failed create of ${name} failed: ${String(cleanupErr)}`);
    });
    throw err;
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= destroy(name, hostInterface, prefix));
  return {
    name,
    address,
    hostAddress,
    hostInterface,
    exec: (argv, opts = {}) => {
      if (argv.length === 0) throw new TetherError(ErrorCode.InvalidArgument, "netns exec: argv is empty: pass at least the program");
      return spawn(ipPath(), ["netns", "exec", name, ...argv], opts);
    },
    linkDown: () => ip(["-n", name, "link", "set", peerInterface, "down"]),
    linkUp: async () => {
      await ip(["-n", name, "link", "set", peerInterface, "up"]);
      // Neighbour entries that failed while the link was down would answer the next connect
      // with EHOSTUNREACH; forget them so it resolves afresh.
      await ip(["neigh", "flush", "dev", hostInterface]);
      await ip(["-n", name, "neigh", "flush", "dev", peerInterface]);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function destroy(name: string, hostInterface?: string, prefix?: string): Promise<void> {
  if ((await listNamespaces()).includes(name)) {
    await killAll(name);
    await ip(["netns", "del", name]);
  }
  // Normally gone with the namespace (deleting one end of a veth deletes both); not when
  // creation failed before the peer moved in.
  if (hostInterface) await ip(["link", "del", hostInterface]).catch(() => undefined /* already gone: the usual case */);
  if (prefix) {
    await ip(["route", "del", "unreachable", prefix, "metric", String(GUARD_METRIC)]).catch(
      () => undefined /* never added when creation failed early */,
    );
  }
}

async function killAll(name: string): Promise<void> {
  const pids = await namespacePids(name);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch (err) {
      // ESRCH: exited between listing and killing, which is what we want.
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw TetherError.from(err, `kill ${pid} in ${name}`);
    }
  }
  // Deleting the namespace while they live would leave it (and its veth) alive unnamed.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const alive = [];
    for (const pid of pids) if (await isRunning(pid)) alive.push(pid);
    if (alive.length === 0) return;
    if (Date.now() > deadline) {
      throw new TetherError(ErrorCode.DeadlineExceeded, `processes ${alive.join(" ")} in ${name} survived SIGKILL for 10 s`);
    }
    // Yield to the event loop so node reaps children it spawned; they are zombies until then.
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function namespacePids(name: string): Promise<number[]> {
  const { stdout } = await execFileAsync(ipPath(), ["netns", "pids", name]);
  return stdout.split(/\s+/).filter(Boolean).map(Number);
}

async function isRunning(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Field 3, after the parenthesised command name: Z is a zombie, as good as gone.
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false; // no /proc entry: exited and reaped
  }
}

/** Deletes namespaces and links left by test processes that died without cleaning up. */
async function removeStaleNamespaces(): Promise<void> {
  for (const name of await listNamespaces()) {
    const pid = Number(STALE_NAME.exec(name)?.[1]);
    if (!pid || pidAlive(pid)) continue;
    const prefix = await namespacePrefix(name);
    await destroy(name, undefined, prefix).catch((err: unknown) => {
      console.warn(`netns-host: could not remove stale namespace ${name}: ${String(err)}`);
    });
  }
  const { stdout } = await execFileAsync(ipPath(), ["-o", "link", "show", "type", "veth"]);
  for (const line of stdout.split("\n")) {
    const ifname = /^\d+:\s+([^:@]+)/.exec(line)?.[1];
    const owner = ifname ? STALE_LINK.exec(ifname)?.[1] : undefined;
    if (ifname && owner && !pidAlive(parseInt(owner, 36))) await ip(["link", "del", ifname]).catch(() => undefined /* raced another cleaner */);
  }
}

async function namespacePrefix(name: string): Promise<string | undefined> {
  const { stdout } = await execFileAsync(ipPath(), ["-n", name, "-4", "-o", "addr", "show"]).catch(() => ({ stdout: "" }));
  const m = /inet (10\.213\.\d+\.\d+)\/30/.exec(stdout);
  return m?.[1] ? blockAddresses(blockOf(m[1]))[2] : undefined;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function listNamespaces(): Promise<string[]> {
  const { stdout } = await execFileAsync(ipPath(), ["netns", "list"]);
  // Lines are "NAME" or "NAME (id: N)".
  return stdout.split("\n").map((l) => l.split(" ")[0] ?? "").filter(Boolean);
}

/** A /30 no interface of ours uses, starting at this worker's own stretch. */
async function freeBlock(pid: number, seq: number): Promise<number> {
  const { stdout } = await execFileAsync(ipPath(), ["-4", "-o", "addr", "show"]);
  const used = new Set([...stdout.matchAll(/inet (10\.213\.\d+\.\d+)\//g)].map((m) => blockOf(m[1] ?? "")));
  const start = ((pid % (BLOCKS / 8)) * 8 + (seq % 8)) % BLOCKS;
  for (let i = 0; i < BLOCKS; i++) {
    const block = (start + i) % BLOCKS;
    if (!used.has(block)) return block;
  }
  throw new TetherError(ErrorCode.ResourceExhausted, "every /30 in 10.213.0.0/16 is in use: delete stale tether-test-* namespaces (ip netns list)");
}

function blockOf(address: string): number {
  const [, , x = 0, y = 0] = address.split(".").map(Number);
  return (x * 256 + y) >> 2;
}

/** [our address, the namespace's address, the /30 prefix] of a block. */
function blockAddresses(block: number): [string, string, string] {
  const base = block * 4;
  const at = (offset: number): string => `10.213.${(base + offset) >> 8}.${(base + offset) & 255}`;
  return [at(1), at(2), `${at(0)}/30`];
}

async function ip(args: string[]): Promise<void> {
  try {
    await execFileAsync(ipPath(), args, { timeout: 10_000 });
  } catch (err) {
    const stderr = typeof err === "object" && err !== null && "stderr" in err ? String(err.stderr).trim() : String(err);
    throw new TetherError(ErrorCode.Internal, `ip ${args.join(" ")} failed: ${stderr}`, { cause: err });
  }
}

let ipBinary: string | undefined;
function findIp(): string | undefined {
  if (ipBinary) return ipBinary;
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/sbin", "/usr/bin", "/bin"];
  ipBinary = dirs.filter(Boolean).map((d) => join(d, "ip")).find((p) => existsSync(p));
  return ipBinary;
}

function ipPath(): string {
  const found = findIp();
  if (!found) throw new TetherError(ErrorCode.FailedPrecondition, "the `ip` command is missing: install iproute2");
  return found;
}

function effectiveCapabilities(): bigint | undefined {
  try {
    const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
    return hex ? BigInt(`0x${hex}`) : undefined;
  } catch {
    return undefined; // no /proc: treated as "no capabilities", so the caller gets a reason
  }
}
