import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ExitStatusSchema } from "../../../../gen/tether/exec/v1/process_pb.js";
import { FileAccess, NetworkMode, SandboxMode } from "../../../../gen/tether/exec/v1/sandbox_pb.js";
import { looksLikeSandboxDenial, sandboxPolicyFor } from "./exec-sandbox.js";

const exit = (init: Parameters<typeof create<typeof ExitStatusSchema>>[1]) => create(ExitStatusSchema, init);

const askAll = { mode: NetworkMode.PROXY, allowHosts: [], denyHosts: [], askController: true };

describe("sandboxPolicyFor", () => {
  it("maps the thread's mode; an unsandboxed authorization is full access (with full network)", () => {
    expect(sandboxPolicyFor("full-access", ["/w"], false)).toEqual({ mode: SandboxMode.FULL_ACCESS });
    expect(sandboxPolicyFor("workspace-write", ["/w", "/x"], false)).toEqual({ mode: SandboxMode.WORKSPACE_WRITE, writableRoots: ["/w", "/x"], network: askAll });
    expect(sandboxPolicyFor("read-only", ["/tmp/w"], false)).toEqual({ mode: SandboxMode.READ_ONLY, fileRules: [{ pattern: "/tmp/w", access: FileAccess.READ }], network: askAll });
    expect(sandboxPolicyFor("read-only", ["/w"], true)).toEqual({ mode: SandboxMode.FULL_ACCESS });
  });

  it("sandboxed modes reach the network through the proxy with the rules' host lists, asking the controller about the rest", () => {
    const hosts = { allowHosts: ["*.npmjs.org"], denyHosts: ["evil.example"] };
    const network = { mode: NetworkMode.PROXY, allowHosts: ["*.npmjs.org"], denyHosts: ["evil.example"], askController: true };
    expect(sandboxPolicyFor("workspace-write", ["/w"], false, hosts).network).toEqual(network);
    expect(sandboxPolicyFor("read-only", ["/w"], false, hosts).network).toEqual(network);
    expect(sandboxPolicyFor("full-access", ["/w"], false, hosts)).toEqual({ mode: SandboxMode.FULL_ACCESS });
    expect(sandboxPolicyFor("workspace-write", ["/w"], true, hosts)).toEqual({ mode: SandboxMode.FULL_ACCESS });
  });
});

describe("looksLikeSandboxDenial", () => {
  it("reads the usual errno texts of a failed command", () => {
    expect(looksLikeSandboxDenial(exit({ code: 1 }), "bash: x: Read-only file system")).toBe(true);
    expect(looksLikeSandboxDenial(exit({ code: 1 }), "touch: cannot touch 'x': Permission denied")).toBe(true);
    expect(looksLikeSandboxDenial(exit({ code: 1 }), "curl: (6) Could not resolve host")).toBe(false);
  });
  it("never for success, timeouts, not-found and usage errors", () => {
    expect(looksLikeSandboxDenial(exit({ code: 0 }), "Permission denied")).toBe(false);
    expect(looksLikeSandboxDenial(exit({ code: 127 }), "Permission denied")).toBe(false);
    expect(looksLikeSandboxDenial(exit({ code: 2 }), "Permission denied")).toBe(false);
    expect(looksLikeSandboxDenial(exit({ signal: 9, timedOut: true }), "Permission denied")).toBe(false);
  });
  it("takes the exec server's sandbox_denied, and reads the text when it does not say", () => {
    expect(looksLikeSandboxDenial(exit({ code: 1, sandboxDenied: true, sandboxDenial: "file system: Read-only file system" }), "")).toBe(true);
    expect(looksLikeSandboxDenial(exit({ code: 127, sandboxDenied: true }), "")).toBe(true);
    expect(looksLikeSandboxDenial(exit({ code: 1, sandboxDenied: false }), "Permission denied")).toBe(true);
  });
  it("never for a network refusal: a rule or the user said no, and running unsandboxed would go around it", () => {
    expect(looksLikeSandboxDenial(exit({ code: 1, sandboxDenied: true, sandboxDenial: "network: example.com:443 (denied by rule deny_hosts[0])" }), "Permission denied")).toBe(false);
  });
});
