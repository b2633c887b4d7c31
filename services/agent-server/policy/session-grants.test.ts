import { describe, expect, it } from "vitest";
import { MAX_GRANTS_PER_KIND, SessionGrants } from "./session-grants.js";

describe("SessionGrants", () => {
  it("remembers each simple command of an accepted line exactly", () => {
    const g = new SessionGrants();
    g.grantFor({ kind: "command", commandLine: "cargo build && cargo test", argv: [], cwd: "/w", escalated: false });
    expect(g.coversCommands([["cargo", "build"]])).toBe(true);
    expect(g.coversCommands([["cargo", "test"], ["cargo", "build"]])).toBe(true);
    expect(g.coversCommands([["cargo", "build", "--release"]])).toBe(false);
    expect(g.coversCommands([])).toBe(false);
  });

  it("remembers an unparseable line as written", () => {
    const g = new SessionGrants();
    g.grantFor({ kind: "retry_unsandboxed", commandLine: "echo $(id)", argv: [], cwd: "/w", failure: "denied" });
    expect(g.coversCommandLine("echo $(id)")).toBe(true);
    expect(g.coversCommandLine("echo $(id) ")).toBe(false);
  });

  it("matches explicit prefixes", () => {
    const g = new SessionGrants();
    g.grantCommandPrefix(["npm", "run"]);
    expect(g.coversCommands([["npm", "run", "lint"]])).toBe(true);
    expect(g.coversCommands([["npm", "install"]])).toBe(false);
  });

  it("remembers escalated programs, hosts and file roots", () => {
    const g = new SessionGrants();
    g.grantFor({ kind: "escalation", file: "/usr/bin/gh", argv: ["gh", "pr"], cwd: "/w" });
    g.grantFor({ kind: "network", host: "API.example.com.", port: 443 });
    g.grantFor({ kind: "file_change", paths: ["/srv/data/a.txt"], outsideWritableRoots: true });
    expect(g.coversEscalation("/usr/bin/gh")).toBe(true);
    expect(g.coversEscalation("/tmp/gh")).toBe(false);
    expect(g.coversHost("api.example.com")).toBe(true);
    expect(g.coversHost("example.com")).toBe(false);
    expect(g.coversPaths(["/srv/data/b/c.txt", "/srv/data"])).toBe(true);
    expect(g.coversPaths(["/srv/database"])).toBe(false);
    expect(g.coversPaths(["/srv/data/../etc"])).toBe(false);
    expect(g.coversPaths([])).toBe(false);
  });

  it("grants requested permissions: roots and all network", () => {
    const g = new SessionGrants();
    expect(g.coversHost("x.org")).toBe(false);
    g.grantFor({ kind: "permissions", reason: "r", writableRoots: ["/cache"], network: true });
    expect(g.coversHost("x.org")).toBe(true);
    expect(g.coversPaths(["/cache/a"])).toBe(true);
  });

  it("keeps at most MAX_GRANTS_PER_KIND entries, dropping the oldest", () => {
    const g = new SessionGrants();
    for (let i = 0; i <= MAX_GRANTS_PER_KIND; i++) g.grantHost(`h${i}.test`);
    expect(g.coversHost("h0.test")).toBe(false);
    expect(g.coversHost("h1.test")).toBe(true);
    expect(g.coversHost(`h${MAX_GRANTS_PER_KIND}.test`)).toBe(true);
  });
});
