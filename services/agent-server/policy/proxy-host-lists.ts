// Which network rules can be handed to the exec layer's proxy as allow/deny lists without
// changing what they mean. The proxy decides a host on its lists alone (deny over allow) and
// asks the agent about every other host, where ExecPolicy decides with all the rules
// (strictest wins, any glob). So a rule is only listed when the proxy would decide exactly as
// the agent: an allow rule that a prompt (or unlistable deny) rule might also match is left
// out, and so is a glob the proxy cannot take; the agent then answers for those hosts.
import { GlobMatcher } from "../../common/glob-matcher.js";
import type { NetworkDecision, NetworkRule } from "./rule-definitions.js";

/** The exec layer's MAX_HOSTS for each of allow_hosts and deny_hosts. */
export const MAX_PROXY_HOSTS = 256;

/** The host forms the exec layer's proxy takes: a name or IP, or `*.suffix` (its sandbox policy check). */
const PROXY_HOST = /^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;
const IPV6 = /^[0-9a-f:.]+$/;

export interface ProxyHostLists {
  allowHosts: string[];
  denyHosts: string[];
}

export function proxyHostListsFor(rules: readonly NetworkRule[], decide: (host: string) => NetworkDecision | undefined): ProxyHostLists {
  const listable = (host: string) => PROXY_HOST.test(host) || (host.includes(":") && IPV6.test(host));
  const denyHosts = unique(rules.filter((r) => r.decision === "deny" && listable(r.host)).map((r) => r.host));
  // What could make the agent stricter than the proxy's allow list: prompt rules, and deny rules the proxy does not hold.
  const stricter = rules.filter((r) => r.decision === "prompt" || (r.decision === "deny" && !listable(r.host))).map((r) => r.host);
  const allowHosts = unique(
    rules
      .filter((r) => r.decision === "allow" && listable(r.host))
      .map((r) => r.host)
      .filter((host) => (isWildcard(host) ? !stricter.some((other) => mayOverlap(host, other)) : decide(host) === "allow")),
  );
  return { allowHosts: allowHosts.slice(0, MAX_PROXY_HOSTS), denyHosts: denyHosts.slice(0, MAX_PROXY_HOSTS) };
}

function isWildcard(host: string): boolean {
  return /[*?]/.test(host);
}

/** Whether some host name could match both `*.suffix` (allow) and `other`; true when unsure. */
function mayOverlap(allow: string, other: string): boolean {
  if (!isWildcard(other)) return GlobMatcher.compile(allow, "name", "allow").matches(other);
  const a = allow.slice(2);
  if (!other.startsWith("*.") || isWildcard(other.slice(2))) return true;
  const b = other.slice(2);
  return a === b || a.endsWith(`.${b}`) || b.endsWith(`.${a}`);
}

function unique(hosts: string[]): string[] {
  return [...new Set(hosts)];
}
