import { describe, expect, it } from "vitest";
import { ExecPolicy } from "./exec-policy.js";

const lists = (text: string) => ExecPolicy.parse(text, "t.rules").proxyHostLists();

describe("proxyHostLists", () => {
  it("lists allow and deny rules the proxy decides exactly as the rules do", () => {
    expect(lists('network_rule(host="*.github.com", decision="allow")\nnetwork_rule(host="api.github.com", decision="deny")\nnetwork_rule(host="pypi.org", decision="prompt")')).toEqual({
      allowHosts: ["*.github.com"],
      denyHosts: ["api.github.com"],
    });
    expect(lists('network_rule(host="127.0.0.1", decision="allow")\nnetwork_rule(host="127.0.0.1", decision="allow")')).toEqual({ allowHosts: ["127.0.0.1"], denyHosts: [] });
  });

  it("leaves out an allow rule that a prompt rule also covers: the agent asks for those hosts", () => {
    expect(lists('network_rule(host="api.example.com", decision="allow")\nnetwork_rule(host="*.example.com", decision="prompt")').allowHosts).toEqual([]);
    expect(lists('network_rule(host="*.example.com", decision="allow")\nnetwork_rule(host="api.example.com", decision="prompt")').allowHosts).toEqual([]);
    expect(lists('network_rule(host="*.example.com", decision="allow")\nnetwork_rule(host="*.api.example.com", decision="prompt")').allowHosts).toEqual([]);
    expect(lists('network_rule(host="*.example.com", decision="allow")\nnetwork_rule(host="*.other.org", decision="prompt")').allowHosts).toEqual(["*.example.com"]);
  });

  it("leaves out globs the proxy cannot take; a deny glob it cannot take also keeps overlapping allow globs out", () => {
    expect(lists('network_rule(host="api-?.example.com", decision="deny")\nnetwork_rule(host="*.example.com", decision="allow")\nnetwork_rule(host="ok.org", decision="allow")')).toEqual({
      allowHosts: ["ok.org"],
      denyHosts: [],
    });
    expect(lists('network_rule(host="*cdn.net", decision="allow")')).toEqual({ allowHosts: [], denyHosts: [] });
  });

  it("keeps each list within the exec layer's 256 hosts", () => {
    const many = Array.from({ length: 300 }, (_, i) => `network_rule(host="h${i}.example", decision="allow")`).join("\n");
    expect(lists(many).allowHosts).toHaveLength(256);
  });
});
