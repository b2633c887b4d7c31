// Turns a command plus a ResolvedSandbox into the argv/env to exec instead: bubblewrap
// around the command, the managed network proxy when asked for, and nothing when the
// policy is plain full access. If a sandbox is needed but cannot be built, wrap() fails:
// a command never runs unsandboxed by accident.
//
// TIOCSTI: PTY commands run without --new-session (it breaks job control), so a sandboxed
// process could push bytes into its PTY's input, and with zsh-fork an escalated
// (unsandboxed) program may be the one reading them. On x64 and arm64 a seccomp filter
// (tty-seccomp.ts) refuses TIOCSTI/TIOCLINUX for PTY commands; bwrap reads it from fd 9,
// which a tiny /bin/sh prefix opens. Elsewhere setup should set dev.tty.legacy_tiocsti=0.

import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { ErrorCode, TetherError, throwIfAborted } from "../../common/tether-error.js";
import { nativeHelperPath } from "../process/launcher-path.js";
import { buildBwrapArgs } from "./bwrap-args.js";
import { NetworkProxy, type NetworkProxyOptions } from "./network-proxy.js";
import { RELAY_PORT, proxyEnv, relayPrefixedArgv } from "./proxy-relay.js";
import { detectSandboxSupport, type SandboxSupport } from "./sandbox-capabilities.js";
import { ttyInjectionFilter } from "./tty-seccomp.js";
import type { ResolvedSandbox } from "./sandbox-policy.js";

export interface SandboxedCommand {
  /**
   * Full argv to exec instead of the original: [bwrapPath, ...flags, "--", file, ...args],
   * or for a PTY command ["/bin/sh", "-c", <open seccomp filter on fd 9>, filter, bwrapPath, ...].
   */
  argv: string[];
  env: Record<string, string>;
  /** Releases what wrap() acquired (the proxy reference). Idempotent. */
  dispose(): Promise<void>;
}

export interface SandboxerOptions {
  /** Where the proxy sockets and hidden-path placeholders live; created 0700. */
  runtimeDir: string;
  /** Injected for tests; defaults to the cached real probe. */
  detect?: () => Promise<SandboxSupport>;
  /** The node binary the in-sandbox relay runs with when the native relay is not built. */
  nodePath?: string;
  /** build/native/tether-net-relay (default: found beside tether-launch); null: use the node relay. */
  relayPath?: string | null;
  /** How the proxy resolves host names; injected so tests need no DNS. */
  proxyLookup?: (host: string) => Promise<string>;
}

export interface WrapCommand {
  file: string;
  /** execve-style argv: argv[0] is the program name (bwrap execs `file` with argv[1..]). */
  argv: string[];
  cwd: string;
  env: Record<string, string>;
}

export interface WrapOptions {
  signal?: AbortSignal;
  /** Host paths bound at the same path, e.g. the zsh-fork escalation socket. */
  extraBinds?: { path: string; writable: boolean }[];
  /** The command will run on a PTY (default false: it gets its own session). */
  tty?: boolean;
  /**
   * A proxy of this command's own (not shared by rule set), so what it refuses is known to be
   * this command's, and hosts no rule names can be asked of the controller (ask_controller).
   */
  proxyOwner?: { id: string; ask?: NetworkProxyOptions["ask"]; onDenied?: NetworkProxyOptions["onDenied"] };
}

interface ProxyEntry {
  proxy: Promise<NetworkProxy>;
  refs: number;
}

// bwrap --seccomp takes an fd; the /bin/sh prefix opens the filter file on it and execs bwrap.
const SECCOMP_FD = 9;
const OPEN_FILTER = `exec ${SECCOMP_FD}<"$0" && exec "$@"`;

// sun_path holds 108 bytes including the NUL.
const MAX_SOCKET_PATH = 107;

export class Sandboxer implements AsyncDisposable {
  private readonly runtimeDir: string;
  private readonly detect: () => Promise<SandboxSupport>;
  private readonly nodePath: string;
  private readonly relayPath: string | undefined;
  private readonly proxyLookup: ((host: string) => Promise<string>) | undefined;
  private readonly proxies = new Map<string, ProxyEntry>();
  private placeholders: { dir: string; file: string; ttyFilter: string | undefined } | undefined;
  private closed = false;

  constructor(options: SandboxerOptions) {
    this.runtimeDir = path.resolve(options.runtimeDir);
    this.detect = options.detect ?? (() => detectSandboxSupport());
    this.nodePath = options.nodePath ?? process.execPath;
    this.relayPath = options.relayPath === null ? undefined : (options.relayPath ?? nativeHelperPath("tether-net-relay"));
    this.proxyLookup = options.proxyLookup;
  }

  async wrap(s: ResolvedSandbox, cmd: WrapCommand, options: WrapOptions = {}): Promise<SandboxedCommand> {
    if (this.closed) throw new TetherError(ErrorCode.FailedPrecondition, "the sandboxer is closed: create a new one");
    throwIfAborted(options.signal);
    if (cmd.argv.length === 0) throw new TetherError(ErrorCode.InvalidArgument, "argv is empty: pass at least the program");
    const command = [cmd.file, ...cmd.argv.slice(1)];
    if (!needsSandbox(s)) return { argv: command, env: { ...cmd.env }, dispose: async () => {} };

    const support = await this.detect();
    if (!support.bwrap.ok) {
      throw new TetherError(ErrorCode.FailedPrecondition, `cannot build the requested ${s.mode} sandbox: ${support.bwrap.reason}`);
    }
    const placeholders = this.ensureRuntimeDir();
    const tty = options.tty ?? false;

    let release = async (): Promise<void> => {};
    let inner = command;
    const env = { ...cmd.env };
    const internalBinds: string[] = [];
    if (s.network.mode === "proxy") {
      const { socketPath, release: rel } = await this.acquireProxy(s.network, options.signal, options.proxyOwner);
      release = rel;
      // The relay binary is bound in too: a checkout under a path the sandbox hides (/tmp) still runs it.
      internalBinds.push(socketPath, ...(this.relayPath !== undefined ? [this.relayPath] : []));
      inner = relayPrefixedArgv({ ...(this.relayPath !== undefined ? { relayPath: this.relayPath } : {}), nodePath: this.nodePath, socketPath, port: RELAY_PORT, command });
      Object.assign(env, proxyEnv(RELAY_PORT));
    }
    try {
      const flags = await buildBwrapArgs({
        // The command's own cwd stays visible even inside a hidden scratch dir (a NONE rule
        // still hides it, and then building fails).
        sandbox: { ...s, readableRoots: [...(s.readableRoots ?? []), path.resolve(cmd.cwd)] },
        cwd: cmd.cwd,
        tty,
        hiddenDir: placeholders.dir,
        hiddenFile: placeholders.file,
        extraBinds: options.extraBinds ?? [],
        internalBinds,
        seccompFd: tty && placeholders.ttyFilter !== undefined ? SECCOMP_FD : undefined,
        signal: options.signal,
      });
      const bwrap = [support.bwrap.path, ...flags, "--", ...inner];
      let disposed = false;
      return {
        argv: tty && placeholders.ttyFilter !== undefined ? ["/bin/sh", "-c", OPEN_FILTER, placeholders.ttyFilter, ...bwrap] : bwrap,
        env,
        dispose: async () => {
          if (disposed) return;
          disposed = true;
          await release();
        },
      };
    } catch (err) {
      await release();
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const entries = [...this.proxies.values()];
    this.proxies.clear();
    await Promise.allSettled(entries.map(async (e) => (await e.proxy).close()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** One proxy per allow/deny set (and owner, when given), shared by every command using it, closed with the last. */
  private async acquireProxy(
    network: ResolvedSandbox["network"],
    signal: AbortSignal | undefined,
    owner?: WrapOptions["proxyOwner"],
  ): Promise<{ socketPath: string; release: () => Promise<void> }> {
    const key = JSON.stringify([[...network.allowHosts].sort(), [...network.denyHosts].sort(), owner?.id ?? "", network.askController ?? false]);
    const socketPath = path.join(this.runtimeDir, `proxy-${createHash("sha256").update(key).digest("hex").slice(0, 12)}.sock`);
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
      throw new TetherError(
        ErrorCode.FailedPrecondition,
        `proxy socket path ${socketPath} is longer than ${MAX_SOCKET_PATH} bytes: configure a shorter sandbox runtime directory`,
      );
    }
    let entry = this.proxies.get(key);
    if (entry === undefined) {
      const started = NetworkProxy.start({
        socketPath,
        allowHosts: network.allowHosts,
        denyHosts: network.denyHosts,
        lookup: this.proxyLookup,
        ask: network.askController ? owner?.ask : undefined,
        onDenied: owner?.onDenied,
      });
      entry = { proxy: started, refs: 0 };
      this.proxies.set(key, entry);
      const created = entry;
      // A failed start must not poison the key for later commands.
      started.catch(() => {
        if (this.proxies.get(key) === created) this.proxies.delete(key);
      });
    }
    entry.refs++;
    const held = entry;
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      held.refs--;
      if (held.refs === 0 && this.proxies.get(key) === held) {
        this.proxies.delete(key);
        await (await held.proxy).close();
      }
    };
    try {
      await held.proxy;
      throwIfAborted(signal);
    } catch (err) {
      await release().catch(() => undefined); // the start error below is the one to report
      throw TetherError.from(err, "starting the sandbox network proxy");
    }
    return { socketPath, release };
  }

  private ensureRuntimeDir(): { dir: string; file: string; ttyFilter: string | undefined } {
    if (this.placeholders !== undefined) return this.placeholders;
    try {
      fs.mkdirSync(this.runtimeDir, { recursive: true, mode: 0o700 });
      const dir = path.join(this.runtimeDir, "hidden-dir");
      const file = path.join(this.runtimeDir, "hidden-file");
      fs.mkdirSync(dir, { recursive: true });
      // An earlier run's placeholder is already mode 000; only create a missing one.
      if (!fs.existsSync(file)) fs.writeFileSync(file, "");
      // Mode 000 and bound read-only: nobody in the sandbox can read or chmod them.
      fs.chmodSync(dir, 0o000);
      fs.chmodSync(file, 0o000);
      const program = ttyInjectionFilter();
      let ttyFilter: string | undefined;
      if (program !== undefined) {
        ttyFilter = path.join(this.runtimeDir, "tty-seccomp.bpf");
        fs.writeFileSync(ttyFilter, program, { mode: 0o600 });
      }
      this.placeholders = { dir, file, ttyFilter };
      return this.placeholders;
    } catch (err) {
      throw TetherError.from(err, `preparing the sandbox runtime directory ${this.runtimeDir}`);
    }
  }
}

/** Plain full access with the network on needs no sandbox at all. */
export function needsSandbox(s: ResolvedSandbox): boolean {
  return s.mode !== "full-access" || s.rules.length > 0 || s.network.mode !== "on";
}
