// The session reader against a real in-process exec server; only the environment's answer to
// an Attach that overtook its Start is simulated (this server holds such an Attach instead).
import { tmpdir } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Environment } from "../../../../clients/environment/environment.js";
import { LocalEnvironment } from "../../../../clients/environment/local-environment.js";
import { ErrorCode, TetherError } from "../../../common/tether-error.js";
import { SessionOutput } from "./session-output.js";

let env: Environment;
beforeAll(async () => {
  env = await LocalEnvironment.create({ defaultCwd: tmpdir() });
});
afterAll(async () => {
  await env?.close();
});

/** The environment, but its first Attach answers NOT_FOUND as if it arrived before its Start. */
function overtakingEnv(): { env: Environment; attaches: () => number } {
  let n = 0;
  const processes = {
    ...env.processes,
    attach: (...a: Parameters<Environment["processes"]["attach"]>) => {
      n++;
      if (n > 1) return env.processes.attach(...a);
      return (async function* () {
        yield* [];
        throw new TetherError(ErrorCode.NotFound, "no process (yet)");
      })();
    },
  };
  return { env: Object.assign(Object.create(Object.getPrototypeOf(env) as object) as Environment, env, { processes }), attaches: () => n };
}

const sink = () => {
  let text = "";
  return { output: (_d: Uint8Array, t: string) => void (text += t), ended: () => undefined, text: () => text };
};

describe("SessionOutput", () => {
  it("an Attach that overtook its Start is asked once more after Start answered", async () => {
    const o = overtakingEnv();
    const s = sink();
    const started = env.processes.start("so-overtake", { argv: ["sh", "-c", "echo hi"] }).then(() => true);
    const out = new SessionOutput(o.env, "so-overtake", 0n, s, started);
    await out.done;
    expect(out.exit?.code).toBe(0);
    expect(s.text()).toBe("hi\n");
    expect(out.take(100)).toEqual({ text: "hi\n", totalBytes: 3, truncated: false });
    expect(o.attaches()).toBe(2);
  });

  it("a failed Start is not asked again: the reader ends with the Attach's error", async () => {
    const o = overtakingEnv();
    const out = new SessionOutput(o.env, "so-never-started", 0n, sink(), Promise.resolve(false));
    await out.done;
    expect(out.error?.code).toBe(ErrorCode.NotFound);
    expect(o.attaches()).toBe(1);
  });

  it("keeps head and tail of a huge writer; each take starts afresh and moves the cursor", async () => {
    await env.processes.start("so-huge", { argv: ["sh", "-c", "echo start; head -c 20000000 /dev/zero | tr '\\0' a; echo; echo END"] });
    const out = new SessionOutput(env, "so-huge", 0n, sink());
    await out.done;
    const taken = out.take(1000);
    expect(taken.totalBytes).toBe(6 + 20_000_000 + 5);
    expect(taken.truncated).toBe(true);
    expect(taken.text.startsWith("start\naaa")).toBe(true);
    expect(taken.text.endsWith("a\nEND\n")).toBe(true);
    expect(taken.text.length).toBeLessThan(1100);
    expect(out.takenSeq).toBeGreaterThan(0n);
    expect(out.take(1000)).toEqual({ text: "", totalBytes: 0, truncated: false });
  });
});
