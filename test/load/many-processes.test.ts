// Many processes held by a separate exec-server process (issue 11, bounded): 300 processes
// printing a line a second, 16 clients on their own connections holding a live Attach
// stream on every process and attaching again. Asserts all are held, every client and every
// process's stream gets output, closing the session kills them all, no child is left over
// and the server's fds go back to their baseline. The timing figures are in bench
// concurrency (`make bench ARGS="--only concurrency"`); nothing here asserts on time.
// TETHER_MANY_PROCESSES and TETHER_MANY_CLIENTS widen it: at 1000 and 64 (the bench's scale)
// CloseSession's kill loop once held the server's event loop long enough for keepalive to
// drop every connection.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OverflowPolicy } from "../../gen/tether/exec/v1/process_pb.js";
import { PRODUCER } from "../../bench/benchmarks/concurrency.js";
import { LoadClient } from "../../bench/benchmarks/concurrency-load.js";
import { type ServerProcess, fdCount, fdTargets, sessionChildren, startServerProcess, until } from "../support/load-server-process.js";

const PROCESSES = Number(process.env.TETHER_MANY_PROCESSES ?? 300);
const CLIENTS = Number(process.env.TETHER_MANY_CLIENTS ?? 16);
/** fds allowed beyond the warmed-up baseline once every process is gone (lazily closed pipes, a zygote socket). */
const FD_SLACK = 10;

describe("exec server holding many processes", () => {
  let server: ServerProcess;
  let load: LoadClient | undefined;

  beforeAll(async () => {
    server = await startServerProcess();
  });

  afterAll(async () => {
    load?.close();
    await server?.stop();
  });

  it(`holds ${PROCESSES} processes with ${CLIENTS} clients attached, and closing the session kills them all`, { timeout: 180_000 }, async () => {
    load = await LoadClient.open(server.url, CLIENTS);
    const spec = { argv: PRODUCER, stdinOpen: true, output: { overflow: OverflowPolicy.DROP_OLDEST, maxRetainedBytes: 64n << 10n } };
    // Warm up (launcher, zygote, one stream per client) so the fd baseline is the steady state.
    const warm = await load.clients[0]!.session.openSession({});
    await Promise.all(load.clients.map((c, j) => c.process.start({ processId: `warm-${j}`, sessionId: warm.sessionId, spec: { argv: ["echo", "warm"] } })));
    await Promise.all(load.clients.map((c, j) => load!.attachFirstOutput(c, `warm-${j}`)));
    await load.clients[0]!.session.closeSession({ sessionId: warm.sessionId });
    await until("the warm-up children to go", () => sessionChildren(server.pid).length === 0, () => sessionChildren(server.pid).join(", "));
    const baseline = fdCount(server.pid);

    const { sessionId } = await load.clients[0]!.session.openSession({});
    await load.startAll(PROCESSES, spec, sessionId);
    expect(await load.running()).toBe(PROCESSES);
    expect(sessionChildren(server.pid).length).toBeGreaterThanOrEqual(PROCESSES);

    load.attachAllLive();
    // A second attach by every client, at once, while the live streams open and run.
    for (let wave = 0; wave < 2; wave++) expect(await load.attachWave(wave)).toHaveLength(CLIENTS);
    const silent = () => load!.ids.filter((_, i) => load!.liveBytes[i] === 0);
    await until("output on every live stream", () => silent().length === 0, () => silent().slice(0, 10).join(", "));
    expect(load.clientBytes.every((b) => b > 0)).toBe(true);
    load.throwIfFailed();
    expect(await load.running()).toBe(PROCESSES);

    const closed = await load.clients[0]!.session.closeSession({ sessionId });
    expect(closed.processesKilled).toBe(PROCESSES);
    // Every live stream ends with its process's exit, none fails.
    await load.liveEnded();
    expect(await load.running()).toBe(0);
    await until("no session children left", () => sessionChildren(server.pid).length === 0, () => sessionChildren(server.pid).slice(0, 10).join(", "));
    await until(
      `server fds back to ${baseline} (+${FD_SLACK})`,
      () => fdCount(server.pid) <= baseline + FD_SLACK,
      () => `${fdCount(server.pid)}: ${fdTargets(server.pid).filter((t) => !t.startsWith("/dev/")).slice(0, 20).join(", ")}`,
    );
  });
});
