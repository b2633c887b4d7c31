// `tether run` as a user runs it: a real process (bin/tether.js) against a real exec
// server process, with pipes, a real PTY (node-pty) and a cut-able network in between.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { access, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import * as pty from "node-pty";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExecServerProcess, TETHER_BIN, startExecServerProcess } from "../../test/support/exec-server-process.js";
import { type TcpProxy, startTcpProxy } from "../../test/support/tcp-proxy.js";
import { createTestCa } from "../../test/support/test-ca.js";
import { alive, pollUntil } from "../../test/support/exec-harness.js";

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  ms: number;
}

/** Runs `tether ARGS…`, feeding `input` on stdin; `onStdout` sees each chunk as it arrives. */
function tether(args: string[], input?: Buffer, onStdout?: (chunk: Buffer, total: number) => void): Promise<RunResult> & { child: ChildProcess } {
  const t0 = Date.now();
  const child = spawn(process.execPath, [TETHER_BIN, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  const out: Buffer[] = [];
  let total = 0;
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => {
    out.push(b);
    total += b.length;
    onStdout?.(b, total);
  });
  child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  child.stdin.on("error", () => {
    // EPIPE when the command exits before reading everything: the test checks the outcome.
  });
  if (input) child.stdin.end(input);
  else child.stdin.end();
  const done = new Promise<RunResult>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out), stderr, ms: Date.now() - t0 })),
  );
  return Object.assign(done, { child });
}

let server: ExecServerProcess;
let env: string;

beforeAll(async () => {
  server = await startExecServerProcess();
  env = server.url;
});
afterAll(async () => {
  await server?.close();
});

describe("tether run with pipes", () => {
  it("pipes binary stdin to stdout byte-exact", async () => {
    const data = randomBytes(3 << 20);
    const r = await tether(["run", "--env", env, "--", "cat"], data);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(createHash("sha256").update(r.stdout).digest("hex")).toBe(createHash("sha256").update(data).digest("hex"));
  });

  it("passes the exit code through, and 128+signal for a killed command", async () => {
    expect((await tether(["run", "--env", env, "--", "sh", "-c", "exit 42"])).code).toBe(42);
    expect((await tether(["run", "--env", env, "--", "sh", "-c", "kill -TERM $$"])).code).toBe(143);
    expect((await tether(["run", "--env", env, "--", "sh", "-c", "kill -KILL $$"])).code).toBe(137);
  });

  it("works the same with --env local (in-process exec server)", async () => {
    const r = await tether(["run", "--env", "local", "--", "sh", "-c", "cat; echo err >&2; exit 4"], Buffer.from("local\n"));
    expect(r.stdout.toString()).toBe("local\n");
    expect(r.stderr).toBe("err\n");
    expect(r.code).toBe(4);
  });

  it("ends quietly with 141 when its reader goes away, and the remote command is killed", async () => {
    // The reader stops after the first line and goes away only once the command has written
    // more than the client's 4 MiB receive window: an Attach left open and unread then holds
    // all of the connection's window, and CloseSession's answer could not get through (it was
    // seen as a DEADLINE_EXCEEDED on a loaded machine, where the reader is slow to go away).
    const dir = await mkdtemp(path.join(tmpdir(), "tether-run-141-"));
    const marker = path.join(dir, "written");
    try {
      const script = `echo $$; head -c 6000000 /dev/zero; : > '${marker}'; exec yes`;
      const child = spawn(process.execPath, [TETHER_BIN, "run", "--env", env, "--", "sh", "-c", script], { stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
      const closed = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
      // Like `| { head -1; …; }`: read the first line, stop reading, later close the pipe.
      const remotePid = await new Promise<number>((resolve) => {
        let text = "";
        const onData = (b: Buffer) => {
          text += b.toString("latin1");
          if (!text.includes("\n")) return;
          child.stdout.off("data", onData);
          child.stdout.pause();
          resolve(Number(text.slice(0, text.indexOf("\n"))));
        };
        child.stdout.on("data", onData);
      });
      await pollUntil(() => access(marker).then(() => true, () => false), "the remote command to write 6 MB", 30_000);
      child.stdout.destroy();
      expect(await closed, `stderr: ${stderr}`).toBe(141);
      expect(stderr).toBe("");
      await pollUntil(async () => !(await alive(remotePid)), `remote yes ${remotePid} to be killed`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("keeps stderr separate from stdout", async () => {
    const r = await tether(["run", "--env", env, "--", "sh", "-c", "echo out; echo err >&2; echo out2"]);
    expect(r.stdout.toString()).toBe("out\nout2\n");
    expect(r.stderr).toBe("err\n");
    expect(r.code).toBe(0);
  });

  it("forwards SIGINT and SIGTERM to the remote command", async () => {
    // "started" comes from a process already as it will be when the signal lands. Not `sh -c
    // 'echo started; sleep 100'`: a `sh -c` catches SIGINT until it execs its last command,
    // and a SIGINT landing between the echo and that exec is lost with the exec (dash), so
    // sleep ran on: the test's own race, 1 run in 3 under load. The TERM trap is set before
    // the echo, and runs whenever TERM lands.
    const waitForInt = "console.log('started'); setTimeout(() => {}, 100_000)";
    for (const [sig, argv, code] of [
      ["SIGINT", [process.execPath, "-e", waitForInt], 130],
      ["SIGTERM", ["sh", "-c", "trap 'echo got-term; exit 5' TERM; echo started; sleep 100 & wait"], 5],
    ] as const) {
      let sentAt: number | undefined;
      // Bounded well under the test's timeout: a signal that never reaches the command ends
      // in the wall timeout's message instead of a bare timeout (seen under load, 1 in 3).
      const run = tether(["run", "--env", env, "--timeout", "20000", "--", ...argv], undefined, (_c, _t) => {
        if (sentAt === undefined) {
          sentAt = Date.now();
          run.child.kill(sig);
        }
      });
      const r = await run;
      const what = `${sig}: exit ${r.code}/${r.signal} ${r.ms} ms after start, ${sentAt === undefined ? "never sent" : `sent after ${sentAt - (Date.now() - r.ms)} ms`}; stdout ${JSON.stringify(r.stdout.toString())}; stderr ${JSON.stringify(r.stderr)}`;
      expect(r.code, what).toBe(code);
      expect(r.stdout.toString(), what).toMatch(/^started\n/);
    }
  });

  it("reports a timeout and exits with the signal's code", async () => {
    const r = await tether(["run", "--env", env, "--timeout", "300", "--", "sleep", "30"]);
    expect(r.code).toBe(143);
    expect(r.stderr).toMatch(/wall timeout of 300 ms reached/);
  });
});

describe("tether run across a dropped connection", () => {
  let tcpServer: ExecServerProcess;
  let proxy: TcpProxy;
  beforeAll(async () => {
    tcpServer = await startExecServerProcess({ listen: "tcp://127.0.0.1:0" });
    proxy = await startTcpProxy({ port: Number(tcpServer.url.split(":").at(-1)) });
  });
  afterAll(async () => {
    await proxy?.close();
    await tcpServer?.close();
  });

  it("resumes with nothing lost or repeated when the link is cut mid-run", async () => {
    const expected = execFileSync("sh", ["-c", "seq 1 2000000 | sha256sum"]).toString().split(" ")[0];
    const cutAt = [1 << 20, 4 << 20, 8 << 20];
    let cuts = 0;
    const r = await tether(["run", "--env", `grpc://127.0.0.1:${proxy.port}`, "--", "seq", "1", "2000000"], undefined, (_chunk, total) => {
      if (cuts < cutAt.length && total >= cutAt[cuts]!) {
        proxy.cut();
        cuts++;
      }
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(cuts).toBe(cutAt.length);
    expect(createHash("sha256").update(r.stdout).digest("hex")).toBe(expected);
  });

  it("sends stdin byte-exact across cuts (retried writes land once)", async () => {
    const data = randomBytes(12 << 20);
    const cutAt = [2 << 20, 6 << 20, 9 << 20];
    let cuts = 0;
    const r = await tether(["run", "--env", `grpc://127.0.0.1:${proxy.port}`, "--", "cat"], data, (_chunk, total) => {
      if (cuts < cutAt.length && total >= cutAt[cuts]!) {
        proxy.cut();
        cuts++;
      }
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(cuts).toBe(cutAt.length);
    expect(r.stdout.length).toBe(data.length);
    expect(createHash("sha256").update(r.stdout).digest("hex")).toBe(createHash("sha256").update(data).digest("hex"));
  });

  it("with -t in a real terminal, resumes the PTY stream across cuts", async () => {
    const term = pty.spawn(process.execPath, [TETHER_BIN, "run", "--env", `grpc://127.0.0.1:${proxy.port}`, "-t", "--", "seq", "1", "300000"], {
      cols: 80,
      rows: 24,
      env: { ...process.env, TERM: "xterm" },
    });
    let screen = "";
    const cutAt = [200_000, 800_000, 1_400_000];
    let cuts = 0;
    term.onData((d) => {
      screen += d;
      if (cuts < cutAt.length && screen.length >= cutAt[cuts]!) {
        proxy.cut();
        cuts++;
      }
    });
    const code = await new Promise<number>((resolve) => term.onExit((e) => resolve(e.exitCode)));
    expect(code).toBe(0);
    expect(cuts).toBe(cutAt.length);
    // The terminal turns \n into \r\n; every line exactly once, in order.
    const expected = Array.from({ length: 300000 }, (_, i) => `${i + 1}\r\n`).join("");
    expect(screen.length).toBe(expected.length);
    expect(screen === expected).toBe(true);
  });
});

describe("tether run when the server stops", () => {
  it("exits 137 and says the exec server shut down", async () => {
    const own = await startExecServerProcess();
    try {
      let stopped = false;
      const r = await tether(["run", "--env", own.url, "--", "sh", "-c", "echo up; exec sleep 100"], undefined, () => {
        if (stopped) return;
        stopped = true;
        own.kill("SIGTERM");
      });
      expect(r.stdout.toString()).toBe("up\n");
      expect(r.code).toBe(137);
      expect(r.stderr).toBe("tether: the exec server shut down\n");
    } finally {
      await own.close();
    }
  });
});

describe("tether run -t in a real terminal", () => {
  it("runs on a /dev/pts terminal that follows the window size; Ctrl-C interrupts the remote command", async () => {
    const term = pty.spawn(process.execPath, [TETHER_BIN, "run", "--env", env, "-t", "--", "sh"], {
      cols: 80,
      rows: 24,
      env: { ...process.env, TERM: "xterm" },
    });
    let screen = "";
    const waiters = new Set<() => void>();
    term.onData((d) => {
      screen += d;
      for (const w of [...waiters]) w();
    });
    const exited = new Promise<number>((resolve) => term.onExit((e) => resolve(e.exitCode)));
    /** Waits until `re` matches the output after `from`; returns the end offset. */
    const expectScreen = (re: RegExp, from = 0) =>
      new Promise<number>((resolve, reject) => {
        const check = () => {
          const m = re.exec(screen.slice(from));
          if (!m) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(from + m.index + m[0].length);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${re}; screen: ${JSON.stringify(screen.slice(-400))}`));
        }, 20_000);
        waiters.add(check);
        check();
      });
    try {
      // Markers are computed remotely ($((…))) so the echo of what we type never matches.
      term.write("tty; echo mark-$((20+1))\r");
      let at = await expectScreen(/\/dev\/pts\/\d+\s+mark-21/);
      term.write("stty size; echo mark-$((20+2))\r");
      at = await expectScreen(/24 80\s+mark-22/, at);

      term.resize(100, 40);
      // The resize reaches tether run as SIGWINCH, then the server as Resize: poll by asking again.
      let size = "";
      for (let i = 0; i < 50 && size !== "40 100"; i++) {
        term.write(`stty size; echo mark-$((100+${i}))\r`);
        const end = await expectScreen(new RegExp(`(\\d+ \\d+)\\s+mark-${100 + i}`), at);
        size = /(\d+ \d+)\s+mark-\d+$/.exec(screen.slice(at, end))![1]!;
        at = end;
      }
      expect(size).toBe("40 100");

      // The marker is printed by the process that then becomes `sleep` (exec, no fork), so the
      // ^C cannot land in dash's fork-to-exec window, where a forked shell copy swallows it.
      term.write("sh -c 'echo mark-$((30+1)); exec sleep 100'; echo after-sleep\r");
      at = await expectScreen(/mark-31/, at);
      term.write("\x03");
      term.write("echo mark-$((30+2))\r");
      at = await expectScreen(/mark-32/, at);
      term.write("exit 3\r");
      expect(await exited).toBe(3);
    } finally {
      term.kill();
    }
  });

  it("passes the remote PTY's bytes through untranslated and restores the terminal afterwards", async () => {
    const script = `"${process.execPath}" "${TETHER_BIN}" run --env ${env} -t -- printf 'a\\nb\\r\\n'; echo; stty -a | tr ' ;' '\\n\\n' | grep -x -e opost -e -opost`;
    const term = pty.spawn("sh", ["-c", script], { cols: 80, rows: 24, env: { ...process.env, TERM: "xterm" } });
    let screen = "";
    term.onData((d) => (screen += d));
    expect(await new Promise<number>((resolve) => term.onExit((e) => resolve(e.exitCode)))).toBe(0);
    // The remote terminal made a\r\nb\r\r\n; the local one added nothing.
    expect(screen).toContain("a\r\nb\r\r\n");
    expect(screen.trim().split(/\r?\n/).at(-1)).toBe("opost");
  });
});

describe("tether run against a TLS server with a token", () => {
  let dir: string;
  let tls: ExecServerProcess;
  let files: { ca: string; token: string; wrong: string };
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "tether-run-tls-"));
    const ca = await createTestCa(path.join(dir, "ca"), ["127.0.0.1"]);
    files = { ca: ca.caCert, token: path.join(dir, "token"), wrong: path.join(dir, "wrong") };
    await writeFile(files.token, "right-token\n", { mode: 0o600 });
    await writeFile(files.wrong, "wrong-token\n", { mode: 0o600 });
    tls = await startExecServerProcess({
      listen: "tcp://127.0.0.1:0",
      args: ["--tls-cert", ca.serverCert, "--tls-key", ca.serverKey, "--token-file", files.token],
    });
  });
  afterAll(async () => {
    await tls?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("runs with the CA and the token, and says what is wrong without them", async () => {
    expect(tls.url).toMatch(/^grpcs:\/\/127\.0\.0\.1:\d+$/);
    const ok = await tether(["run", "--env", tls.url, "--ca-file", files.ca, "--token-file", files.token, "--", "sh", "-c", "echo secure; exit 6"]);
    expect(ok.stdout.toString()).toBe("secure\n");
    expect(ok.code).toBe(6);
    const wrong = await tether(["run", "--env", tls.url, "--ca-file", files.ca, "--token-file", files.wrong, "--", "true"]);
    expect(wrong.code).toBe(255);
    expect(wrong.stderr).toMatch(/bearer token is wrong.*UNAUTHENTICATED/);
    const none = await tether(["run", "--env", tls.url, "--ca-file", files.ca, "--", "true"]);
    expect(none.code).toBe(255);
    expect(none.stderr).toMatch(/requires a bearer token/);
    const untrusted = await tether(["run", "--env", tls.url, "--token-file", files.token, "--", "true"]);
    expect(untrusted.code).toBe(255);
    expect(untrusted.stderr).toMatch(/cannot reach grpcs:\/\/127\.0\.0\.1:\d+.*not trusted here: pass --ca-file/);
  });
});

describe("tether CLI usage and errors", () => {
  it("has --help for every command", async () => {
    const top = await tether(["--help"]);
    expect(top.code).toBe(0);
    expect(top.stdout.toString()).toMatch(/exec-server/);
    expect(top.stdout.toString()).toMatch(/run/);
    const run = await tether(["run", "--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout.toString()).toMatch(/--env <env>/);
    const es = await tether(["exec-server", "--help"]);
    expect(es.code).toBe(0);
    expect(es.stdout.toString()).toMatch(/--listen <url>/);
  });

  it("names the accepted forms for a bad --env", async () => {
    const r = await tether(["run", "--env", "ftp://x", "--", "true"]);
    // A bad flag: usage (2), as README's exit statuses say.
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/environment "ftp:\/\/x" is not understood: use local, unix:\/\/\/path, grpc:\/\/host:port/);
  });

  it("exits 255 when the server is unreachable, saying how to start one (not by a deadline)", async () => {
    const sock = await tether(["run", "--env", "unix:///tmp/tether-no-such-server.sock", "--", "true"]);
    expect(sock.code).toBe(255);
    expect(sock.stderr).toMatch(/cannot reach unix:\/\/\/tmp\/tether-no-such-server\.sock.*tether exec-server --listen/);
    expect(sock.stderr).not.toMatch(/DEADLINE_EXCEEDED|deadline/i);
    const tcp = await tether(["run", "--env", "grpc://127.0.0.1:1", "--", "true"]);
    expect(tcp.code).toBe(255);
    expect(tcp.stderr).toMatch(/cannot reach grpc:\/\/127\.0\.0\.1:1/);
    expect(tcp.stderr).not.toMatch(/DEADLINE_EXCEEDED|deadline/i);
  });

  it("says what is missing when no command is given", async () => {
    const r = await tether(["run", "--env", env]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/command/);
  });
});
