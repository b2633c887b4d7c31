// A model server that is not there at all: after the retries, the error says where the address
// came from (the likely mistake), not only that the connection was refused.
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import { ResponsesModelClient } from "./responses-model-client.js";

/** A loopback port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("ResponsesModelClient with no server at the base URL", () => {
  it("gives up after its attempts naming OPENAI_BASE_URL and base_url as what to check", async () => {
    const baseURL = `http://127.0.0.1:${await closedPort()}/v1`;
    const client = new ResponsesModelClient({ apiKey: "sk-test", baseURL, maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 1 });
    const request = { model: "gpt-test", instructions: "", input: [{ type: "message" as const, role: "user" as const, text: "hi" }], tools: [] };
    let error: unknown;
    try {
      for await (const event of client.stream(request, { signal: new AbortController().signal })) void event;
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TetherError);
    expect((error as TetherError).code).toBe(ErrorCode.Unavailable);
    expect((error as TetherError).message).toMatch(new RegExp(`failed 2 times, giving up; last error: cannot reach the model server at ${baseURL.replace(/[.]/g, "\\.")}: .*OPENAI_BASE_URL, or base_url`));
  });
});
