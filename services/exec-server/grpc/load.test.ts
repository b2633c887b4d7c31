// Load and memory: many processes at once, BLOCK backpressure against a separate
// exec-server process (its RSS and the producer's writes are read from /proc), and
// DROP_OLDEST's bounded history.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OverflowPolicy } from "../../../gen/tether/exec/v1/process_pb.js";
import { parseEnvTarget } from "../../../clients/environment/env-target.js";
import { type NetworkTarget, createConnection } from "../../../clients/environment/grpc-connection.js";
import { ErrorCode } from "../../common/tether-error.js";
import { type Harness, childrenOf, drain, failure, pollUntil, startHarness } from "../../../test/support/exec-harness.js";
import { type ExecServerProcess, startExecServerProcess } from "../../../test/support/exec-server-process.js";

async function launchersUnder(pid: number): Promise<number[]> {
  const children = await childrenOf(pid);
  const all = [...children, ...(await Promise.all(children.map(childrenOf))).flat()];
  const comms = await Promise.all(all.map((p) => readFile(`/proc/${p}/comm`, "utf8").catch(() => "")));
  return all.filter((_, i) => comms[i]!.trim() === "tether-launch");
}

async function procField(pid: number, file: "status" | "io", name: string): Promise<number> {
  const text = await readFile(`/proc/${pid}/${file}`, "utf8");
  const m = new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(text);
  if (!m) throw new Error(`no ${name} in /proc/${pid}/${file}`);
  return Number(m[1]);
}

describe("many processes at once", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it("runs 200 concurrent processes to completion with complete output and leaves none behind", async () => {
    const p = h.clients.processes;
    const expected = (i: number) => Array.from({ length: 400 }, (_, k) => `p${i} ${k + 1}\n`).join("");
    const runs = Array.from({ length: 200 }, async (_, i) => {
      const processId = `many-${i}`;
      await p.start({ processId, spec: { argv: ["sh", "-c", `seq 1 400 | sed 's/^/p${i} /'`] } });
      return drain(p.attach({ processId }));
    });
    const results = await Promise.all(runs);
    results.forEach((r, i) => {
      expect(r.exit?.code, `process ${i}`).toBe(0);
      const got = r.stdout.toString();
      if (got !== expected(i)) throw new Error(`process ${i}: got ${got.length} bytes, expected ${expected(i).length}; events ${r.events.map((e) => e.event.case + ":" + e.seq).join(",")}; head ${JSON.stringify(got.slice(0, 80))}`);
    });
    // The launchers reap their trees and exit: none is left among this test process's children
    // (spawned directly) or its children's (forked by the exec server's tether-zygote).
    await pollUntil(async () => (await launchersUnder(process.pid)).length === 0, "every launcher to exit");
    expect(h.core.processes.runningCount).toBe(0);
  });
});

describe("BLOCK backpressure against a separate exec-server process", () => {
  let server: ExecServerProcess;
  beforeAll(async () => {
    server = await startExecServerProcess({ args: ["--retain-bytes-total", String(64 << 20)] });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("pauses a 100 MB producer behind a stopped reader, keeps RSS bounded and loses nothing", async () => {
    const count = 13_000_000; // `seq 1 13000000` is ~103 MB
    const expectedSha = execFileSync("sh", ["-c", `seq 1 ${count} | sha256sum`]).toString().split(" ")[0];
    const conn = createConnection(parseEnvTarget(server.url) as NetworkTarget);
    try {
      const started = await conn.processes.start({
        processId: "producer",
        spec: { argv: ["seq", "1", String(count)], output: { overflow: OverflowPolicy.BLOCK, maxRetainedBytes: BigInt(1 << 20) } },
      });
      const producer = started.process!.pid;
      const baseRss = await procField(server.pid, "status", "VmRSS");
      const hash = createHash("sha256");
      let received = 0;
      const it = conn.processes.attach({ processId: "producer" })[Symbol.asyncIterator]();
      const pull = async (): Promise<boolean> => {
        const next = await it.next();
        if (next.done) return false;
        if (next.value.event.case === "output") {
          hash.update(next.value.event.value.data);
          received += next.value.event.value.data.byteLength;
        }
        return true;
      };
      // Read 8 MB, then stop reading.
      while (received < 8 << 20) expect(await pull()).toBe(true);

      // With the reader stopped, the producer's writes must stall: wchar stops growing.
      let last = -1;
      let still = 0;
      await pollUntil(async () => {
        const wchar = await procField(producer, "io", "wchar");
        still = wchar === last ? still + 1 : 0;
        last = wchar;
        return still >= 3;
      }, "the producer's wchar to stop growing", 20_000, 200);
      expect(last).toBeLessThan(60 << 20);
      const stalledRss = await procField(server.pid, "status", "VmRSS");
      expect(stalledRss - baseRss, `server RSS grew from ${baseRss} kB to ${stalledRss} kB`).toBeLessThan(64 << 10);

      // Read the rest; RSS is sampled along the way and stays bounded.
      let maxRss = stalledRss;
      let n = 0;
      while (await pull()) {
        if (++n % 500 === 0) maxRss = Math.max(maxRss, await procField(server.pid, "status", "VmRSS"));
      }
      expect(received).toBe(Number(execFileSync("sh", ["-c", `seq 1 ${count} | wc -c`]).toString().trim()));
      expect(hash.digest("hex")).toBe(expectedSha);
      expect(maxRss - baseRss, `server RSS peaked at ${maxRss} kB from ${baseRss} kB`).toBeLessThan(96 << 10);
      expect((await conn.processes.wait({ processId: "producer" })).status?.code).toBe(0);
    } finally {
      conn.close();
    }
  });
});

describe("DROP_OLDEST", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it("keeps head and tail, reports the gap, and answers OUT_OF_RANGE naming the oldest seq", async () => {
    const p = h.clients.processes;
    const full = Buffer.from(Array.from({ length: 200_000 }, (_, i) => `${i + 1}\n`).join(""));
    await p.start({
      processId: "dropper",
      spec: { argv: ["seq", "1", "200000"], output: { overflow: OverflowPolicy.DROP_OLDEST, maxRetainedBytes: BigInt(64 << 10) } },
    });
    const status = (await p.wait({ processId: "dropper" })).status;
    expect(status?.code).toBe(0);
    const [info] = (await p.list({ includeExited: true })).processes.filter((x) => x.processId === "dropper");
    expect(Number(info!.droppedBytes)).toBeGreaterThan(0);

    const withGaps = await drain(p.attach({ processId: "dropper", allowGaps: true }));
    const gaps = withGaps.events.filter((e) => e.event.case === "gap");
    expect(gaps).toHaveLength(1);
    const gap = gaps[0]!.event.value as { fromSeq: bigint; toSeq: bigint; droppedBytes: bigint };
    expect(gap.droppedBytes).toBe(info!.droppedBytes);
    expect(withGaps.stdout.length + Number(gap.droppedBytes)).toBe(full.length);
    // Head and tail are exact pieces of the output, around the hole.
    const gapAt = withGaps.events.indexOf(gaps[0]!);
    const head = Buffer.concat(withGaps.events.slice(0, gapAt).flatMap((e) => (e.event.case === "output" ? [Buffer.from(e.event.value.data)] : [])));
    const tail = withGaps.stdout.subarray(head.length);
    expect(full.subarray(0, head.length).equals(head)).toBe(true);
    expect(full.subarray(full.length - tail.length).equals(tail)).toBe(true);
    expect(withGaps.exit?.code).toBe(0);

    // A cursor inside the hole, without gaps allowed: OUT_OF_RANGE naming where to resume.
    const inside = gap.fromSeq + 1n;
    const err = await failure((async () => {
      for await (const _ of p.attach({ processId: "dropper", afterSeq: inside })) return;
    })());
    expect(err.code).toBe(ErrorCode.OutOfRange);
    expect(err.message).toContain(`the oldest retained seq after it is ${gap.toSeq + 1n}`);
    // Reading from 0 without gaps gets the head, then stops at the hole with the same answer.
    const fromZero = await failure(drain(p.attach({ processId: "dropper" })));
    expect(fromZero.code).toBe(ErrorCode.OutOfRange);
    expect(fromZero.message).toContain(`${gap.toSeq + 1n}`);
  });
});

describe("BLOCK with a reader that leaves", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it("terminates, kills and closes BLOCK-paused processes nobody reads (pipes and PTY)", async () => {
    const p = h.clients.processes;
    const output = { overflow: OverflowPolicy.BLOCK, maxRetainedBytes: BigInt(64 << 10) };
    const { sessionId } = await h.clients.sessions.openSession({ sessionId: "paused-owners" });
    const specs = {
      "paused-pipe": { argv: ["yes"], output },
      "paused-pty": { argv: ["yes"], output, tty: { rows: 24, cols: 80 } },
      "paused-trap": { argv: ["sh", "-c", "trap '' TERM; yes"], output },
      "paused-session": { argv: ["yes"], output, tty: { rows: 24, cols: 80 } },
    };
    const pids: Record<string, number> = {};
    for (const [processId, spec] of Object.entries(specs)) {
      const started = await p.start({ processId, spec, sessionId: processId === "paused-session" ? sessionId : "" });
      pids[processId] = started.process!.pid;
    }
    // Each is paused once its unread output reaches the cap: its writes stop.
    for (const [processId, pid] of Object.entries(pids)) {
      let last = -1;
      let still = 0;
      await pollUntil(async () => {
        const wchar = await procField(pid, "io", "wchar").catch(() => last);
        still = wchar === last ? still + 1 : 0;
        last = wchar;
        return still >= 3;
      }, `${processId} to be paused`, 20_000, 100);
    }
    expect((await p.terminate({ processId: "paused-pipe", graceMs: 5000 })).status?.signal).toBe(15);
    expect((await p.terminate({ processId: "paused-pty", graceMs: 200 })).status?.signal).toBeGreaterThan(0);
    expect((await p.terminate({ processId: "paused-trap", graceMs: 200 })).status?.signal).toBe(9);
    expect((await h.clients.sessions.closeSession({ sessionId })).processesKilled).toBe(1);
  });

  it("pauses the producer while nobody reads and resumes from the cursor with nothing lost", async () => {
    const p = h.clients.processes;
    const expected = execFileSync("seq", ["1", "1000000"], { maxBuffer: 64 << 20 });
    const started = await p.start({
      processId: "leaver",
      spec: { argv: ["seq", "1", "1000000"], output: { overflow: OverflowPolicy.BLOCK, maxRetainedBytes: BigInt(64 << 10) } },
    });
    const parts: Buffer[] = [];
    let cursor = 0n;
    let got = 0;
    for await (const ev of p.attach({ processId: "leaver" })) {
      if (ev.event.case !== "output") continue;
      parts.push(Buffer.from(ev.event.value.data));
      got += ev.event.value.data.byteLength;
      cursor = ev.seq;
      if (got >= 200_000) break; // detach: the call is cancelled
    }
    let last = -1;
    let still = 0;
    await pollUntil(async () => {
      const wchar = await procField(started.process!.pid, "io", "wchar");
      still = wchar === last ? still + 1 : 0;
      last = wchar;
      return still >= 3;
    }, "the producer to stall with no reader", 20_000, 100);
    expect(last).toBeLessThan(expected.length);
    const rest = await drain(p.attach({ processId: "leaver", afterSeq: cursor }));
    expect(rest.exit?.code).toBe(0);
    const all = Buffer.concat([...parts, rest.stdout]);
    expect(all.length).toBe(expected.length);
    expect(all.equals(expected)).toBe(true);
  });
});
