// Random frames at the Codex front door: whatever arrives (any JSON, any method name, params
// of any shape, text that is not JSON), every request gets exactly one answer carrying its
// id, nothing else is sent, and the connection still serves afterwards. Methods that change
// the machine (process/start, fs writes) are left out: random params must not run anything.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { codexDoorFixture } from "./codex-door-fixture.js";
import { CodexTestClient } from "./codex-test-client.js";

const door = codexDoorFixture("tether-codex-fuzz-");

const SAFE_METHODS = [
  "initialize",
  "process/read",
  "process/write",
  "process/signal",
  "process/terminate",
  "fs/getMetadata",
  "fs/readFile",
  "fs/canonicalize",
  "fs/readDirectory",
  "fs/watchMissing",
  "environmentConfig/read",
];

const params = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.record({ processId: fc.string({ maxLength: 300 }), afterSeq: fc.oneof(fc.integer(), fc.double(), fc.constant(null)), chunk: fc.string(), writeId: fc.string() }, { requiredKeys: [] }),
  fc.record({ path: fc.oneof(fc.string(), fc.constant(`file://${"/x".repeat(3000)}`), fc.constant("file:///proc/self/environ")), sandbox: fc.jsonValue({ maxDepth: 3 }) }, { requiredKeys: [] }),
);

describe("Codex front door under random frames", () => {
  it("answers every request once, by id, and keeps serving", async () => {
    const c = await CodexTestClient.connect(door.url);
    await c.initialize();
    let id = 1000;
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.constantFrom(...SAFE_METHODS), fc.string({ maxLength: 40 })), params, fc.boolean(), async (method, p, garbage) => {
        const before = c.stray.length;
        if (garbage) {
          await c.sendRaw(`${JSON.stringify({ id: "x", method, params: p })}}`);
          const [bad] = (await c.waitForStray(before + 1)).slice(before);
          expect(bad).toMatchObject({ id: null, error: { code: -32700 } });
          return;
        }
        const answer = await c.sendRaw(JSON.stringify({ id: ++id, method, params: p }), id);
        expect(answer.id).toBe(id);
        expect(("result" in answer) !== ("error" in answer)).toBe(true);
        if (answer.error) expect(answer.error.message.length).toBeGreaterThan(0);
        expect(c.stray.length).toBe(before);
      }),
      { numRuns: 300 },
    );
    const still = await c.request("fs/getMetadata", { path: `file://${door.dir}`, sandbox: null });
    expect(still.result).toMatchObject({ isDirectory: true });
    // /proc is never served through the file methods.
    const proc = await c.request("fs/readFile", { path: "file:///proc/self/environ", sandbox: null });
    expect(proc.error).toBeDefined();
    await c.close();
  });
});
