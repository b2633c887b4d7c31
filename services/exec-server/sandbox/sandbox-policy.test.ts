import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  FileAccess,
  NetworkMode,
  SandboxMode,
  SandboxPolicySchema,
} from "../../../gen/tether/exec/v1/sandbox_pb.js";
import { ErrorCode, TetherError } from "../../common/tether-error.js";
import { HostRules } from "./host-rules.js";
import { fileAccessPolicy, resolveSandboxPolicy, type ResolvedSandbox } from "./sandbox-policy.js";

// Paths under a directory that does not exist, so canonicalisation keeps them as written.
const W = "/nonexistent-tether-test/work";

function resolved(partial: Partial<ResolvedSandbox>): ResolvedSandbox {
  return {
    mode: "workspace-write",
    writableRoots: [W],
    rules: [],
    network: { mode: "off", allowHosts: [], denyHosts: [] },
    allowedUnixSockets: [],
    ...partial,
  };
}

function expectInvalid(fn: () => unknown, field: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TetherError);
    expect((err as TetherError).code).toBe(ErrorCode.InvalidArgument);
    expect((err as TetherError).message).toContain(field);
    return;
  }
  throw new Error(`expected InvalidArgument naming ${field}`);
}

describe("resolveSandboxPolicy", () => {
  const defaults = { cwd: W, defaultMode: "read-only" as const };

  it("uses the default mode and network off when nothing is specified", () => {
    const s = resolveSandboxPolicy(undefined, defaults);
    expect(s.mode).toBe("read-only");
    expect(s.network.mode).toBe("off");
    expect(s.writableRoots).toEqual([]);
  });

  it("turns the network on by default in full access", () => {
    const s = resolveSandboxPolicy(create(SandboxPolicySchema, { mode: SandboxMode.FULL_ACCESS }), defaults);
    expect(s.network.mode).toBe("on");
  });

  it("makes the cwd the writable root of workspace-write when no root is given", () => {
    const s = resolveSandboxPolicy(create(SandboxPolicySchema, { mode: SandboxMode.WORKSPACE_WRITE }), defaults);
    expect(s.writableRoots).toEqual([W]);
  });

  it("normalises .. in roots and rules", () => {
    const s = resolveSandboxPolicy(
      create(SandboxPolicySchema, {
        mode: SandboxMode.WORKSPACE_WRITE,
        writableRoots: [`${W}/a/../b`],
        fileRules: [{ pattern: `${W}/b/./x/../secrets`, access: FileAccess.NONE }],
      }),
      defaults,
    );
    expect(s.writableRoots).toEqual([`${W}/b`]);
    expect(s.rules).toEqual([{ pattern: `${W}/b/secrets`, access: "none" }]);
  });

  it("rejects relative paths naming the field", () => {
    expectInvalid(() => resolveSandboxPolicy(create(SandboxPolicySchema, { writableRoots: ["/ok", "rel"] }), defaults), "sandbox.writable_roots[1]");
    expectInvalid(
      () => resolveSandboxPolicy(create(SandboxPolicySchema, { fileRules: [{ pattern: "*.pem", access: FileAccess.NONE }] }), defaults),
      "sandbox.file_rules[0].pattern",
    );
    expectInvalid(() => resolveSandboxPolicy(create(SandboxPolicySchema, { allowedUnixSockets: ["x.sock"] }), defaults), "sandbox.allowed_unix_sockets[0]");
  });

  it("rejects a rule without access, bad hosts, and host lists outside proxy mode", () => {
    expectInvalid(() => resolveSandboxPolicy(create(SandboxPolicySchema, { fileRules: [{ pattern: "/x" }] }), defaults), "sandbox.file_rules[0].access");
    expectInvalid(
      () => resolveSandboxPolicy(create(SandboxPolicySchema, { network: { mode: NetworkMode.PROXY, allowHosts: ["http://x"] } }), defaults),
      "sandbox.network.allow_hosts[0]",
    );
    expectInvalid(
      () => resolveSandboxPolicy(create(SandboxPolicySchema, { network: { mode: NetworkMode.ON, denyHosts: ["x.test"] } }), defaults),
      "NETWORK_MODE_PROXY",
    );
  });

  it("refuses oversized policies with INVALID_ARGUMENT naming the limit", () => {
    const many = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));
    expectInvalid(
      () => resolveSandboxPolicy(create(SandboxPolicySchema, { writableRoots: many(65, (i) => `/r${i}`) }), defaults),
      "sandbox.writable_roots has 65 entries; the limit is 64",
    );
    expectInvalid(
      () => resolveSandboxPolicy(create(SandboxPolicySchema, { network: { mode: NetworkMode.PROXY, denyHosts: many(257, (i) => `h${i}.test`) } }), defaults),
      "sandbox.network.deny_hosts has 257 entries",
    );
    expectInvalid(
      () => resolveSandboxPolicy(create(SandboxPolicySchema, { network: { mode: NetworkMode.PROXY, allowHosts: [`${"a".repeat(300)}.test`] } }), defaults),
      "sandbox.network.allow_hosts[0] is 305 characters; the limit is 253",
    );
    expectInvalid(
      () => resolveSandboxPolicy(create(SandboxPolicySchema, { fileRules: [{ pattern: `/w/${"*a".repeat(129)}`, access: FileAccess.NONE }] }), defaults),
      "MAX_GLOB_LENGTH",
    );
    expectInvalid(
      () => resolveSandboxPolicy(create(SandboxPolicySchema, { allowedUnixSockets: [`/${"s".repeat(4096)}`] }), defaults),
      "PATH_MAX",
    );
    expectInvalid(
      () => resolveSandboxPolicy(create(SandboxPolicySchema, { writableRoots: many(20, (i) => `/r${i}/${"d".repeat(4000)}`) }), defaults),
      "MAX_POLICY_PATH_BYTES",
    );
  });

  it("keeps proxy host lists normalised", () => {
    const s = resolveSandboxPolicy(
      create(SandboxPolicySchema, { network: { mode: NetworkMode.PROXY, allowHosts: ["Example.COM.", "*.npmjs.org"], denyHosts: ["[::1]"] } }),
      defaults,
    );
    expect(s.network).toEqual({ mode: "proxy", allowHosts: ["example.com", "*.npmjs.org"], denyHosts: ["::1"], askController: false });
  });
});

describe("fileAccessPolicy", () => {
  it("gives workspace-write write in roots, read elsewhere, read in .git and .tether", () => {
    const p = fileAccessPolicy(resolved({}));
    expect(p.accessFor(`${W}/src/a.ts`)).toBe("write");
    expect(p.accessFor(W)).toBe("write");
    expect(p.accessFor(`${W}/.git/config`)).toBe("read");
    expect(p.accessFor(`${W}/.tether`)).toBe("read");
    expect(p.accessFor(`${W}/.gitignore`)).toBe("write");
    expect(p.accessFor("/etc/passwd")).toBe("read");
    expect(p.accessFor(`${W}-sibling/x`)).toBe("read");
  });

  it("lets the strictest matching rule win over the mode", () => {
    const p = fileAccessPolicy(
      resolved({
        rules: [
          { pattern: `${W}/secrets`, access: "none" },
          { pattern: `${W}/secrets/public`, access: "write" },
          { pattern: `${W}/vendor`, access: "read" },
          { pattern: `${W}/vendor/patches`, access: "write" },
        ],
      }),
    );
    expect(p.accessFor(`${W}/secrets/key`)).toBe("none");
    expect(p.accessFor(`${W}/secrets/public/x`)).toBe("none"); // none beats write
    expect(p.accessFor(`${W}/vendor/lib.js`)).toBe("read"); // a READ rule freezes part of a root
    expect(p.accessFor(`${W}/vendor/patches/a.diff`)).toBe("write"); // write beats read
  });

  it("opens a WRITE carve-out inside a read-only tree but keeps its .git read-only", () => {
    const p = fileAccessPolicy(resolved({ mode: "read-only", writableRoots: [], rules: [{ pattern: `${W}/out`, access: "write" }] }));
    expect(p.accessFor(`${W}/out/a`)).toBe("write");
    expect(p.accessFor(`${W}/out/.git/HEAD`)).toBe("read");
    expect(p.accessFor(`${W}/src`)).toBe("read");
    const named = fileAccessPolicy(resolved({ rules: [{ pattern: `${W}/.git`, access: "write" }] }));
    expect(named.accessFor(`${W}/.git/HEAD`)).toBe("write"); // a rule naming .git itself opens it
  });

  it("matches globs against the path and its ancestors", () => {
    const p = fileAccessPolicy(
      resolved({ rules: [{ pattern: `${W}/**/*.pem`, access: "none" }, { pattern: `${W}/node_modules/*`, access: "read" }] }),
    );
    expect(p.accessFor(`${W}/a.pem`)).toBe("none");
    expect(p.accessFor(`${W}/deep/er/b.pem`)).toBe("none");
    expect(p.accessFor(`${W}/deep/er/b.pem.txt`)).toBe("write");
    expect(p.accessFor(`${W}/node_modules/pkg/index.js`)).toBe("read");
    expect(p.accessFor(`${W}/node_modules`)).toBe("write");
  });

  it("decides the issue's pathological NONE rule on a long path in bounded time, by the same rule", () => {
    const p = fileAccessPolicy(resolved({ mode: "read-only", writableRoots: [], rules: [{ pattern: `/${"**a".repeat(13)}**ab`, access: "none" }] }));
    expect(p.accessFor(`/${"a".repeat(30)}`)).toBe("read");
    expect(p.accessFor(`/${"a".repeat(30)}b`)).toBe("none");
    expect(p.accessFor(`/${"a".repeat(4000)}b/under`)).toBe("none");
  });

  it("hides host scratch dirs inside a sandbox unless a root, rule or readable root brings them back", () => {
    const p = fileAccessPolicy(
      resolved({ writableRoots: ["/tmp/ws"], readableRoots: ["/tmp/cwd"], rules: [{ pattern: "/run/shared", access: "read" }] }),
    );
    expect(p.accessFor("/tmp/other")).toBe("none");
    expect(p.accessFor("/run/docker.sock")).toBe("none");
    expect(p.accessFor("/tmp/ws/x")).toBe("write");
    expect(p.accessFor("/tmp/cwd/x")).toBe("read");
    expect(p.accessFor("/run/shared/x")).toBe("read");
    expect(fileAccessPolicy(resolved({ mode: "full-access", writableRoots: [] })).accessFor("/tmp/other")).toBe("write");
  });

  it("describes itself for error messages", () => {
    expect(fileAccessPolicy(resolved({})).describe()).toBe(`workspace-write (roots: ${W}; network: off)`);
  });
});

describe("HostRules", () => {
  it("denies by rule before checking the allow list", () => {
    const rules = new HostRules({ allowHosts: ["*.example.com", "api.test"], denyHosts: ["evil.example.com"] });
    expect(rules.decide("a.example.com")).toEqual({ allowed: true });
    expect(rules.decide("EVIL.example.com.")).toEqual({ allowed: false, reason: "denied by rule evil.example.com" });
    expect(rules.decide("example.com")).toEqual({ allowed: false, reason: "host example.com is not in the allow list" });
    expect(rules.decide("api.test")).toEqual({ allowed: true });
  });

  it("matches through the glob matcher: `*.` covers every subdomain, nothing else is a wildcard", () => {
    const rules = new HostRules({ allowHosts: ["*.example.com", "[::1]"], denyHosts: [] });
    expect(rules.decide("a.b.example.com")).toEqual({ allowed: true });
    expect(rules.decide("example.com").allowed).toBe(false);
    expect(rules.decide("xexample.com").allowed).toBe(false);
    expect(rules.decide("::1")).toEqual({ allowed: true });
  });

  it("refuses local addresses unless the exact name is allowed", () => {
    const open = new HostRules({ allowHosts: [], denyHosts: [] });
    expect(open.decideAddress("rebind.test", "127.0.0.1").allowed).toBe(false);
    expect(open.decideAddress("meta.test", "169.254.169.254").allowed).toBe(false);
    expect(open.decideAddress("v6.test", "::ffff:127.0.0.1").allowed).toBe(false);
    expect(open.decideAddress("ok.test", "93.184.216.34").allowed).toBe(true);
    expect(new HostRules({ allowHosts: ["localhost"], denyHosts: [] }).decideAddress("localhost", "::1").allowed).toBe(true);
  });
});
