// Tries to break out of real bubblewrap sandboxes. Every escape attempt must fail and
// leave the host untouched; positive controls prove the sandbox is not just broken.

import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import pty from "node-pty";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROXY_REASON_HEADER } from "./network-proxy.js";
import { skipTestOutsideCi } from "../../../test/support/ci-must-run.js";
import { detectSandboxSupport } from "./sandbox-capabilities.js";
import { fileAccessPolicy, type ResolvedSandbox } from "./sandbox-policy.js";
import { Sandboxer } from "./sandboxer.js";

const support = await detectSandboxSupport();
const skipReason = support.bwrap.ok ? undefined : support.bwrap.reason;
if (skipReason !== undefined) {
  if (process.env.CI === "true") throw new Error(`sandbox escape suite cannot run in CI: ${skipReason}`);
  console.log(`SKIPPING sandbox escape suite: ${skipReason}`);
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const MAX_CAPTURE = 64 * 1024;
let attempts = 0;
let controls = 0;

describe.skipIf(skipReason !== undefined)("sandbox escapes (real bwrap)", () => {
  let base: string;
  let ws: string;
  let outside: string;
  let sandboxer: Sandboxer;
  let tcpServer: net.Server;
  let tcpPort: number;
  let tcpConnections = 0;
  let upstream: http.Server;
  let upstreamPort: number;
  const hostSockets: { server: net.Server; path: string }[] = [];
  let tmpSock: string;
  let runSock: string;
  let allowedSock: string;
  const abstractName = `\0tether-escape-${process.pid}`;

  beforeAll(async () => {
    base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "tether-escape-")));
    ws = path.join(base, "ws");
    outside = path.join(base, "outside");
    for (const d of ["ws/.git", "ws/.tether", "ws/secrets", "ws/frozen", "ws/src", "outside", "ro/open"]) {
      fs.mkdirSync(path.join(base, d), { recursive: true });
    }
    fs.writeFileSync(path.join(ws, ".git/config"), "[core]\n");
    fs.writeFileSync(path.join(ws, ".tether/config.json"), "{}\n");
    fs.writeFileSync(path.join(ws, "secrets/key"), "TOP-SECRET\n");
    fs.writeFileSync(path.join(ws, "frozen/data"), "frozen\n");
    fs.writeFileSync(path.join(ws, "src/main.txt"), "main\n");
    fs.writeFileSync(path.join(ws, "stray.pem"), "PEM-SECRET\n");
    fs.writeFileSync(path.join(outside, "file.txt"), "outside\n");
    fs.symlinkSync(outside, path.join(ws, "link-out"));
    sandboxer = new Sandboxer({ runtimeDir: path.join(base, "rt") });

    tcpServer = net.createServer((c) => {
      tcpConnections++;
      c.end("tcp-hello\n");
    });
    tcpPort = await listenTcp(tcpServer);
    upstream = http.createServer((_req, res) => res.end("upstream-hello\n"));
    upstreamPort = await listenTcp(upstream);

    tmpSock = path.join(base, "host.sock");
    runSock = `/run/tether-escape-${process.pid}.sock`;
    allowedSock = path.join(base, "allowed.sock");
    for (const p of [tmpSock, runSock, allowedSock, abstractName]) {
      const server = net.createServer((c) => c.end("unix-hello\n"));
      await new Promise<void>((resolve) => server.listen(p, resolve));
      hostSockets.push({ server, path: p });
    }
  });

  afterAll(async () => {
    console.log(`sandbox escape suite: ${attempts} escape attempts (all failed as required), ${controls} positive controls`);
    await sandboxer?.close();
    await Promise.all([tcpServer, upstream, ...hostSockets.map((h) => h.server)].map((s) => new Promise((r) => s?.close(r))));
    fs.rmSync(runSock, { force: true });
    if (base !== undefined) {
      // The placeholders are mode 000 on purpose; make them removable again.
      for (const p of ["rt/hidden-dir", "rt/hidden-file"]) fs.rmSync(path.join(base, p), { recursive: true, force: true });
      fs.rmSync(base, { recursive: true, force: true });
    }
  });

  function policy(partial: Partial<ResolvedSandbox>): ResolvedSandbox {
    return {
      mode: "workspace-write",
      writableRoots: [ws],
      rules: [
        { pattern: path.join(ws, "secrets"), access: "none" },
        { pattern: `${ws}/**/*.pem`, access: "none" },
        { pattern: path.join(ws, "frozen"), access: "read" },
      ],
      network: { mode: "off", allowHosts: [], denyHosts: [] },
      allowedUnixSockets: [allowedSock],
      readableRoots: [base],
      ...partial,
    };
  }

  async function run(s: ResolvedSandbox, script: string, cwd = ws): Promise<RunResult> {
    const cmd = await sandboxer.wrap(s, { file: "/bin/sh", argv: ["sh", "-c", script], cwd, env: baseEnv() });
    try {
      const child = spawn(cmd.argv[0] as string, cmd.argv.slice(1), { env: cmd.env, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (b: Buffer) => (stdout = (stdout + b.toString()).slice(-MAX_CAPTURE)));
      child.stderr.on("data", (b: Buffer) => (stderr = (stderr + b.toString()).slice(-MAX_CAPTURE)));
      const code = await new Promise<number | null>((resolve, reject) => {
        child.once("error", reject);
        child.once("close", (c) => resolve(c));
      });
      return { code, stdout, stderr };
    } finally {
      await cmd.dispose();
    }
  }

  /** An escape attempt: the command must fail, and `untouched` must hold on the host. */
  async function attempt(s: ResolvedSandbox, script: string, untouched?: () => void): Promise<RunResult> {
    attempts++;
    const r = await run(s, script);
    expect(r.code, `escape attempt succeeded: ${script}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).not.toBe(0);
    // 126/127: a tool the attempt needs is missing or not executable, so its failure proves nothing.
    expect([126, 127], `escape attempt could not run (exit ${r.code}): ${script}\nstderr: ${r.stderr}`).not.toContain(r.code);
    if (process.env.TETHER_ESCAPE_DEBUG) console.log(`ATTEMPT ${script}\n  -> ${r.code} ${r.stderr.trim().split("\n").slice(-2).join(" | ")}`);
    untouched?.();
    return r;
  }

  async function control(s: ResolvedSandbox, script: string, cwd?: string): Promise<RunResult> {
    controls++;
    const r = await run(s, script, cwd);
    expect(r.code, `positive control failed: ${script}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
    return r;
  }

  const absent = (p: string) => () => expect(fs.existsSync(p), `${p} was created on the host`).toBe(false);
  const unchanged = (p: string, content: string) => () => expect(fs.readFileSync(p, "utf8")).toBe(content);

  const modes: [string, Partial<ResolvedSandbox>][] = [
    ["workspace-write", {}],
    ["read-only", { mode: "read-only", writableRoots: [] }],
    // Full access made sandboxed by its carve-outs and network off.
    ["full-access with carve-outs", { mode: "full-access", writableRoots: [], allowedUnixSockets: [] }],
  ];

  for (const [name, partial] of modes) {
    describe(name, () => {
      const s = (): ResolvedSandbox => policy(partial);
      const confined = partial.mode !== "full-access";

      it("cannot read a NONE carve-out, directly, by glob, through a symlink or a hard link", async () => {
        const r = await attempt(s(), `cat ${ws}/secrets/key`);
        expect(r.stdout).not.toContain("TOP-SECRET");
        await attempt(s(), `ls ${ws}/secrets`);
        expect((await attempt(s(), `cat ${ws}/stray.pem`)).stdout).not.toContain("PEM-SECRET");
        expect((await attempt(s(), `cat ${ws}/src/../secrets/./key`)).stdout).not.toContain("TOP-SECRET");
        await attempt(s(), `chmod 700 ${ws}/secrets && cat ${ws}/secrets/key`);
        await attempt(s(), `ln ${ws}/secrets/key ${ws}/hl-secret && cat ${ws}/hl-secret`, absent(`${ws}/hl-secret`));
        await attempt(s(), `umount ${ws}/secrets; cat ${ws}/secrets/key`);
        // A nested user namespace would bring capabilities back, if it could be made.
        await control(s(), "command -v unshare"); // so the attempt's failure is the kernel's refusal
        await attempt(s(), `unshare -Urm sh -c 'umount ${ws}/secrets; cat ${ws}/secrets/key'`);
        // Raw block devices would bypass every mount; /dev inside is a fresh minimal one.
        await attempt(s(), "ls /dev | grep -E '^(sd[a-z]|vd[a-z]|nvme[0-9]+n[0-9]+|xvd[a-z])$'");
        const disk = fs.readdirSync("/dev").find((d) => /^(sd[a-z]|vd[a-z]|nvme\d+n\d+|xvd[a-z])$/.test(d)) ?? "vda";
        await attempt(s(), `head -c 512 /dev/${disk} | od | head -1 && test -b /dev/${disk}`);
        if (name === "workspace-write") {
          const r2 = await attempt(s(), `ln -s ${ws}/secrets/key ${ws}/sl-secret && cat ${ws}/sl-secret`);
          expect(r2.stdout).not.toContain("TOP-SECRET");
          fs.rmSync(`${ws}/sl-secret`, { force: true });
        }
      });

      if (!confined) {
        // Full access writes everywhere by definition; these pin that the carve-outs above are
        // what confines it, not a broken sandbox.
        it("writes outside any root and reaches host sockets (full access)", async () => {
          await control(s(), `echo x > ${outside}/full-access.txt`);
          expect(fs.readFileSync(`${outside}/full-access.txt`, "utf8")).toBe("x\n");
          fs.rmSync(`${outside}/full-access.txt`);
          expect((await control(s(), nodeConnect(JSON.stringify(tmpSock)))).stdout).toContain("unix-hello");
        });
      }

      if (confined) it("cannot write outside the writable roots, also via .., symlinks and hard links", async () => {
        await attempt(s(), `echo x > ${outside}/new.txt`, absent(`${outside}/new.txt`));
        await attempt(s(), `echo x > ${ws}/../outside/dotdot.txt`, absent(`${outside}/dotdot.txt`));
        await attempt(s(), `cd ${ws}/src/../.. && echo x > outside/cd.txt`, absent(`${outside}/cd.txt`));
        await attempt(s(), `echo x > ${ws}/link-out/via-link.txt`, absent(`${outside}/via-link.txt`));
        await attempt(s(), `echo x >> ${ws}/link-out/file.txt`, unchanged(`${outside}/file.txt`, "outside\n"));
        // A hard link made from inside to an outside file: the source is on another (read-only)
        // mount, so link() fails with EXDEV; if it ever succeeded, writing must still not land.
        await attempt(s(), `ln ${outside}/file.txt ${ws}/hl-out && echo x >> ${ws}/hl-out`, unchanged(`${outside}/file.txt`, "outside\n"));
        await attempt(s(), `echo x > /etc/tether-escape`, absent("/etc/tether-escape"));
        await attempt(s(), `mount -o remount,rw,bind / && echo x > /etc/tether-escape`, absent("/etc/tether-escape"));
        await attempt(s(), `mount -t tmpfs none ${outside}`);
        // Writes the current value back, so even a regression leaves the host unchanged.
        await attempt(s(), `v=$(cat /proc/sys/kernel/randomize_va_space) && echo $v > /proc/sys/kernel/randomize_va_space`);
        await attempt(s(), `echo x > ${ws}/frozen/data`, unchanged(`${ws}/frozen/data`, "frozen\n"));
      });

      if (confined) it("cannot change .git or .tether inside a writable root", async () => {
        await attempt(s(), `echo x >> ${ws}/.git/config`, unchanged(`${ws}/.git/config`, "[core]\n"));
        await attempt(s(), `echo x > ${ws}/.git/hooks-pre-commit`, absent(`${ws}/.git/hooks-pre-commit`));
        await attempt(s(), `echo x > ${ws}/.tether/config.json`, unchanged(`${ws}/.tether/config.json`, "{}\n"));
        await attempt(s(), `rm -rf ${ws}/.git`, () => expect(fs.existsSync(`${ws}/.git/config`)).toBe(true));
        await attempt(s(), `mv ${ws}/.git ${ws}/git-moved`, absent(`${ws}/git-moved`));
        await attempt(s(), `ln ${ws}/.git/config ${ws}/hl-git && echo x >> ${ws}/hl-git`, unchanged(`${ws}/.git/config`, "[core]\n"));
      });

      it("cannot reach the host network or host processes with the network off", async () => {
        const before = tcpConnections;
        await attempt(s(), nodeConnect(`{ port: ${tcpPort}, host: "127.0.0.1" }`));
        await attempt(s(), `kill -0 ${process.pid}`);
        expect(tcpConnections).toBe(before);
      });

      it("cannot connect to a host abstract Unix socket", async () => {
        await attempt(s(), nodeConnect(JSON.stringify(abstractName)));
      });

      // Full access keeps the host's filesystem sockets (its test above connects to one).
      if (confined) it("cannot connect to host Unix sockets it was not granted", async () => {
        await attempt(s(), nodeConnect(JSON.stringify(tmpSock)));
        await attempt(s(), nodeConnect(JSON.stringify(runSock)));
        await attempt(s(), `ls /run/docker.sock /var/run/docker.sock`);
      });

      it("still runs normal work (positive controls)", async () => {
        expect((await control(s(), `cat ${outside}/file.txt /etc/hostname >/dev/null && cat ${ws}/frozen/data`)).stdout).toBe("frozen\n");
        await control(s(), `echo tmp > /tmp/scratch && cat /tmp/scratch`);
        if (partial.mode !== "read-only") {
          await control(s(), `echo made > ${ws}/src/made.txt`);
          expect(fs.readFileSync(`${ws}/src/made.txt`, "utf8")).toBe("made\n");
        }
        if (confined) expect((await control(s(), nodeConnect(JSON.stringify(allowedSock)))).stdout).toContain("unix-hello");
      });
    });
  }

  it("opens a WRITE carve-out inside a read-only tree, and nothing else", async () => {
    const s = policy({ mode: "read-only", writableRoots: [], rules: [{ pattern: path.join(base, "ro/open"), access: "write" }] });
    await control(s, `echo ok > ${base}/ro/open/w.txt`, base);
    expect(fs.readFileSync(`${base}/ro/open/w.txt`, "utf8")).toBe("ok\n");
    await attempt(s, `echo no > ${base}/ro/w.txt`, absent(`${base}/ro/w.txt`));
  });

  it("cannot push input into its PTY with TIOCSTI (the zsh-fork escalation path)", async (ctx) => {
    const python = findPython();
    skipTestOutsideCi(ctx, python === undefined ? "no python3 to issue the ioctl" : undefined, "the TIOCSTI attempt");
    if (python === undefined) throw new Error("unreachable: skipTestOutsideCi skipped or failed");
    const script = `${python} -c "import fcntl,termios,sys\ntry: fcntl.ioctl(0, termios.TIOCSTI, b'x')\nexcept OSError as e: print('refused', e.errno); sys.exit(3)\nprint('INJECTED')"`;
    // Control: on a plain PTY the ioctl works (as real root), so the attempt below is meaningful.
    const plain = await runOnPty(["/bin/sh", "-c", script], ws);
    // Root may always inject; others only where dev.tty.legacy_tiocsti allows it.
    expect(plain.output).toMatch(process.getuid?.() === 0 ? /INJECTED/ : /INJECTED|refused/);
    attempts++;
    const cmd = await sandboxer.wrap(policy({}), { file: "/bin/sh", argv: ["sh", "-c", script], cwd: ws, env: baseEnv() }, { tty: true });
    try {
      const r = await runOnPty(cmd.argv, ws, cmd.env);
      expect(r.output).toContain("refused 1");
      expect(r.code).toBe(3);
    } finally {
      await cmd.dispose();
    }
  });

  it("reaches the host network when the network is on", async () => {
    const s = policy({ network: { mode: "on", allowHosts: [], denyHosts: [] } });
    expect((await control(s, nodeConnect(`{ port: ${tcpPort}, host: "127.0.0.1" }`))).stdout).toContain("tcp-hello");
  });

  describe("through the managed proxy", () => {
    const allowList = () => policy({ network: { mode: "proxy", allowHosts: ["127.0.0.1"], denyHosts: [] } });
    const denyList = () => policy({ network: { mode: "proxy", allowHosts: [], denyHosts: ["localhost"] } });

    it("reaches an allowed host", async () => {
      const r = await control(allowList(), `curl -sS --max-time 10 http://127.0.0.1:${upstreamPort}/`);
      expect(r.stdout).toBe("upstream-hello\n");
    });

    it("gets 403 with the reason header for hosts outside the allow list, over http and https", async () => {
      const r = await attempt(allowList(), `curl -sS -i --fail-with-body --max-time 10 http://localhost:${upstreamPort}/`);
      expect(r.stdout).toMatch(/^HTTP\/1\.1 403/);
      expect(r.stdout).toContain(`${PROXY_REASON_HEADER}: host localhost is not in the allow list`);
      const tls = await attempt(allowList(), `curl -sS -v --max-time 10 https://localhost:${upstreamPort}/`);
      expect(tls.stderr).toContain("403");
      expect(tls.stderr).toContain(`${PROXY_REASON_HEADER}: host localhost is not in the allow list`);
    });

    it("gets 403 for a denied host and for local addresses not allowed by name", async () => {
      const r = await attempt(denyList(), `curl -sS -i --fail-with-body --max-time 10 http://localhost:${upstreamPort}/`);
      expect(r.stdout).toContain(`${PROXY_REASON_HEADER}: denied by rule localhost`);
      const local = await attempt(denyList(), `curl -sS -i --fail-with-body --max-time 10 http://127.0.0.1:${upstreamPort}/`);
      expect(local.stdout).toContain("resolves to local address 127.0.0.1");
    });

    it("cannot bypass the proxy", async () => {
      const before = tcpConnections;
      await attempt(allowList(), `curl -sS --noproxy '*' --max-time 5 http://127.0.0.1:${upstreamPort}/`);
      await attempt(allowList(), nodeConnect(`{ port: ${tcpPort}, host: "127.0.0.1" }`));
      expect(tcpConnections).toBe(before);
    });
  });

  it("answers file-API questions with the same carve-outs the sandbox enforces", () => {
    const p = fileAccessPolicy(policy({}));
    expect(p.accessFor(`${ws}/secrets/key`)).toBe("none");
    expect(p.accessFor(`${ws}/stray.pem`)).toBe("none");
    expect(p.accessFor(`${ws}/frozen/data`)).toBe("read");
    expect(p.accessFor(`${ws}/.git/config`)).toBe("read");
    expect(p.accessFor(`${ws}/src/main.txt`)).toBe("write");
    expect(p.accessFor(`${outside}/file.txt`)).toBe("read");
    expect(p.accessFor(tmpSock)).toBe("read"); // under readableRoots (base)
    expect(p.accessFor(runSock)).toBe("none");
  });
});

function baseEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: os.homedir(), LANG: "C" };
}

function findPython(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    const p = path.join(dir, "python3");
    if (dir !== "" && fs.existsSync(p)) return p;
  }
  return undefined;
}

function runOnPty(argv: string[], cwd: string, env: Record<string, string> = baseEnv()): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const term = pty.spawn(argv[0] as string, argv.slice(1), { cols: 80, rows: 24, cwd, env });
    let output = "";
    term.onData((d) => (output = (output + d).slice(-MAX_CAPTURE)));
    term.onExit(({ exitCode }) => resolve({ code: exitCode, output }));
  });
}

/** A node one-liner that connects (TCP options object or socket path) and prints what it gets. */
function nodeConnect(target: string): string {
  const js = `const s=require("net").connect(${target});s.on("data",d=>process.stdout.write(d));s.on("end",()=>process.exit(0));s.on("error",e=>{console.error(e.code);process.exit(3)});`;
  return `${process.execPath} -e '${js}'`;
}

function listenTcp(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)));
}
