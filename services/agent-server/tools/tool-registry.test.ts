import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { Environment } from "../../../clients/environment/environment.js";
import { fakeToolContext } from "../../../test/support/fake-tool-context.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import { toolInputFromZod } from "./strict-json-schema.js";
import { buildToolRegistry } from "./tool-registry.js";
import type { ToolDefinition, ToolInput } from "./tool.js";

const noEnv = {} as Environment;
const ctx = () => fakeToolContext({ env: noEnv, cwd: "/work" });

const echo: ToolDefinition<{ text: string; times?: number; mode: "a" | "b"; opts?: { loud?: boolean } }> = {
  name: "echo",
  description: "Echoes text.",
  input: toolInputFromZod(
    z.object({
      text: z.string().describe("What to echo."),
      times: z.number().int().min(1).optional(),
      mode: z.enum(["a", "b"]).default("a"),
      opts: z.object({ loud: z.boolean().optional() }).optional(),
    }),
    "tool echo",
  ),
  mutating: false,
  run: async (input) => ({ output: JSON.stringify(input), success: true }),
};

describe("buildToolRegistry", () => {
  it("rejects duplicate names and bad names", () => {
    expect(() => buildToolRegistry([echo, echo])).toThrow(/two tools are named echo/);
    expect(() => buildToolRegistry([{ ...echo, name: "bad name" }])).toThrow(/not 1-64 characters/);
  });

  it("yields strict specs: all properties required, optional ones nullable, no extra properties", () => {
    const [spec] = buildToolRegistry([echo]).specs();
    expect(spec?.name).toBe("echo");
    expect(spec?.parameters).toEqual({
      type: "object",
      properties: {
        text: { type: "string", description: "What to echo." },
        times: { type: ["integer", "null"] },
        mode: { type: ["string", "null"], enum: ["a", "b", null] },
        opts: {
          type: ["object", "null"],
          properties: { loud: { type: ["boolean", "null"] } },
          required: ["loud"],
          additionalProperties: false,
        },
      },
      required: ["text", "times", "mode", "opts"],
      additionalProperties: false,
    });
  });

  it("rejects a tool whose input is not an object", () => {
    expect(() => buildToolRegistry([{ ...echo, input: toolInputFromZod(z.string(), "tool echo") }])).toThrow(/tool echo: a tool's input must be a zod object/);
  });

  it("runs a call with parsed input: nulls mean absent, defaults applied", async () => {
    const r = await buildToolRegistry([echo]).call("echo", '{"text":"hi","times":null,"mode":null,"opts":{"loud":null}}', ctx());
    expect(r).toEqual({ success: true, output: JSON.stringify({ text: "hi", mode: "a", opts: {} }) });
  });

  it("answers the model for an unknown tool, bad JSON and bad arguments", async () => {
    const reg = buildToolRegistry([echo]);
    expect(await reg.call("nope", "{}", ctx())).toEqual({ success: false, output: 'unknown tool "nope"; the tools are: echo' });
    const badJson = await reg.call("echo", "{text:", ctx());
    expect(badJson.success).toBe(false);
    expect(badJson.output).toMatch(/^the arguments of echo are not valid JSON/);
    const bad = await reg.call("echo", '{"text":3,"times":0}', ctx());
    expect(bad.success).toBe(false);
    expect(bad.output).toMatch(/^invalid arguments for echo: text: .*; times: /);
  });

  it("builds input from plain text for a tool that accepts it", async () => {
    const raw: ToolDefinition<{ input: string }> = {
      name: "raw",
      description: "",
      input: toolInputFromZod(z.object({ input: z.string() }), "tool raw"),
      mutating: true,
      fromPlainText: (text) => ({ input: text }),
      run: async ({ input }) => ({ output: input, success: true }),
    };
    const reg = buildToolRegistry([raw]);
    expect(await reg.call("raw", "*** Begin Patch\n*** End Patch", ctx())).toEqual({ success: true, output: "*** Begin Patch\n*** End Patch" });
    expect(await reg.call("raw", '{"input":"json"}', ctx())).toEqual({ success: true, output: "json" });
  });

  it("counts unknown tools as mutating", () => {
    const reg = buildToolRegistry([echo]);
    expect(reg.isMutating("echo")).toBe(false);
    expect(reg.isMutating("other")).toBe(true);
  });

  it("propagates aborts and fatal errors as throws", async () => {
    const abort = new AbortController();
    const slow: ToolDefinition<object> = {
      name: "slow",
      description: "",
      input: toolInputFromZod(z.object({}), "tool slow"),
      mutating: false,
      run: (_input, c) =>
        new Promise((_resolve, reject) => c.signal.addEventListener("abort", () => reject(new Error("aborted inside")), { once: true })),
    };
    const fatal: ToolDefinition<object> = { ...slow, name: "fatal", run: async () => Promise.reject(new Error("disk on fire")) };
    const reg = buildToolRegistry([slow, fatal]);
    const reason = new TetherError(ErrorCode.Cancelled, "interrupted");
    const call = reg.call("slow", "", fakeToolContext({ env: noEnv, cwd: "/", signal: abort.signal }));
    abort.abort(reason);
    await expect(call).rejects.toBe(reason);
    await expect(reg.call("fatal", "{}", ctx())).rejects.toMatchObject({ code: ErrorCode.Internal, message: "tool fatal: disk on fire" });
  });

  it("needs no parser to be built or to offer its specs; the first call loads it, once", async () => {
    let loads = 0;
    const lazy = (input: ToolInput<unknown>): ToolInput<unknown> => ({ parameters: input.parameters, load: () => { loads++; return input.load(); } });
    const reg = buildToolRegistry([{ ...echo, input: lazy(echo.input) }]);
    expect(reg.specs()[0]?.parameters).toEqual(echo.input.parameters);
    expect(loads).toBe(0);
    expect(await reg.call("echo", "{text:", ctx())).toMatchObject({ success: false, output: expect.stringMatching(/^the arguments of echo are not valid JSON/) });
    expect(loads).toBe(0);
    const bad = await reg.call("echo", '{"text":3,"times":0}', ctx());
    expect(bad.output).toMatch(/^invalid arguments for echo: text: .*; times: /);
    expect(await reg.call("echo", '{"text":"hi"}', ctx())).toEqual({ success: true, output: JSON.stringify({ text: "hi", mode: "a" }) });
    expect(loads).toBe(1);
  });

  it("prefetch starts every load without waiting; a failed load fails that call as fatal and is tried again", async () => {
    const loaded: string[] = [];
    let fail = true;
    const flaky: ToolDefinition<{ text: string }> = {
      ...echo,
      name: "flaky",
      input: { parameters: echo.input.parameters, load: async () => { if (fail) throw new Error("chunk missing"); loaded.push("flaky"); return z.object({ text: z.string() }); } },
    };
    const fine: ToolDefinition<{ text: string }> = { ...echo, input: { parameters: echo.input.parameters, load: async () => { loaded.push("echo"); return z.object({ text: z.string() }); } } };
    const reg = buildToolRegistry([fine, flaky]);
    reg.prefetch();
    await expect(reg.call("flaky", '{"text":"x"}', ctx())).rejects.toMatchObject({ code: ErrorCode.Internal, message: "tool flaky: its argument parser did not load: chunk missing" });
    expect(loaded).toEqual(["echo"]);
    fail = false;
    expect(await reg.call("flaky", '{"text":"x"}', ctx())).toEqual({ success: true, output: JSON.stringify({ text: "x" }) });
    reg.prefetch();
    expect(await reg.call("echo", '{"text":"y"}', ctx())).toEqual({ success: true, output: JSON.stringify({ text: "y" }) });
    expect(loaded).toEqual(["echo", "flaky"]);
  });
});
