// The proxy's allow/deny decision for one host name. Exact names match themselves;
// `*.example.com` matches subdomains of example.com (not example.com itself).
// Deny wins over allow; an empty allow list allows every host not denied. Rules are
// globs of the "name" dialect, matched by the one linear GlobMatcher.

import net from "node:net";
import { GlobMatcher } from "../../common/glob-matcher.js";

export type HostDecision = { allowed: true } | { allowed: false; reason: string };

export class HostRules {
  private readonly allow: GlobMatcher[];
  private readonly deny: GlobMatcher[];

  constructor(options: { allowHosts: string[]; denyHosts: string[] }) {
    this.allow = options.allowHosts.map((h, i) => GlobMatcher.compile(normaliseHost(h), "name", `allow_hosts[${i}]`));
    this.deny = options.denyHosts.map((h, i) => GlobMatcher.compile(normaliseHost(h), "name", `deny_hosts[${i}]`));
  }

  /** Which list decides the host: a deny rule, an allow rule, or neither ("unlisted"). */
  classify(rawHost: string): { list: "deny"; reason: string } | { list: "allow" } | { list: "unlisted" } {
    const host = normaliseHost(rawHost);
    const denied = this.deny.find((rule) => rule.matches(host));
    if (denied !== undefined) return { list: "deny", reason: `denied by rule ${denied.source}` };
    if (this.allow.some((rule) => rule.matches(host))) return { list: "allow" };
    return { list: "unlisted" };
  }

  decide(rawHost: string): HostDecision {
    const host = normaliseHost(rawHost);
    const denied = this.deny.find((rule) => rule.matches(host));
    if (denied !== undefined) return { allowed: false, reason: `denied by rule ${denied.source}` };
    if (this.allow.length > 0 && !this.allow.some((rule) => rule.matches(host))) {
      return { allowed: false, reason: `host ${host} is not in the allow list` };
    }
    return { allowed: true };
  }

  /**
   * Loopback and link-local targets reach the exec server's own machine (its services,
   * cloud metadata), so only an exact allow entry for the name opens them.
   */
  decideAddress(rawHost: string, address: string, controllerAllowed = false): HostDecision {
    const host = normaliseHost(rawHost);
    // The controller's answer names this very host: as explicit as an exact allow entry.
    if (!isLocalAddress(address) || controllerAllowed) return { allowed: true };
    if (this.allow.some((rule) => rule.source === host)) return { allowed: true };
    return {
      allowed: false,
      reason: `host ${host} resolves to local address ${address}; add "${host}" to allow_hosts to reach it`,
    };
  }
}

export function normaliseHost(host: string): string {
  let h = host.trim().toLowerCase().replace(/\.$/, "");
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  return h;
}

function isLocalAddress(address: string): boolean {
  let a = address.toLowerCase();
  if (a.startsWith("::ffff:") && net.isIPv4(a.slice(7))) a = a.slice(7);
  if (net.isIPv4(a)) {
    const [first, second] = a.split(".").map(Number);
    return first === 127 || first === 0 || (first === 169 && second === 254);
  }
  return a === "::1" || a === "::" || a.startsWith("fe80:");
}
