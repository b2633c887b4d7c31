// A thread's policy as the core drives it (ThreadPolicy): the user's execpolicy rules from
// $TETHER_HOME/rules, this thread's session grants and assessAction. "Accept and add a rule"
// appends to default.rules and reloads; if the reload fails (another file was broken in
// the meantime) the new rule still applies in memory and the failure is reported.
import { TetherError } from "../../common/tether-error.js";
import type { PolicyContext, ThreadPolicy } from "../thread/thread-services.js";
import { appendNetworkRule, appendPrefixRule, defaultRulesFile, renderNetworkRule, renderPrefixRule, rulesDir } from "./append-rule.js";
import type { Assessment, NetworkRuleProposal, PrefixRuleProposal, ProposedAction } from "./approval-types.js";
import { assessAction } from "./assess-action.js";
import { ExecPolicy } from "./exec-policy.js";
import { SessionGrants } from "./session-grants.js";

export interface RulesThreadPolicyOptions {
  tetherHome: string;
  signal?: AbortSignal;
  /** Where a failed reload after adding a rule is reported. */
  warn?: (message: string) => void;
}

export class RulesThreadPolicy implements ThreadPolicy {
  readonly grants = new SessionGrants();
  #execPolicy: ExecPolicy;
  readonly #home: string;
  readonly #warn: (message: string) => void;

  private constructor(execPolicy: ExecPolicy, options: RulesThreadPolicyOptions) {
    this.#execPolicy = execPolicy;
    this.#home = options.tetherHome;
    this.#warn = options.warn ?? ((m) => process.emitWarning(m, "TetherPolicyWarning"));
  }

  /** Reads the rule files; a broken one fails with its file, line and column (InvalidArgument). */
  static async load(options: RulesThreadPolicyOptions): Promise<RulesThreadPolicy> {
    const policy = await ExecPolicy.load(rulesDir(options.tetherHome), options.signal ? { signal: options.signal } : {});
    return new RulesThreadPolicy(policy, options);
  }

  /** For tests and embedders that build the rules themselves. */
  static fromPolicy(execPolicy: ExecPolicy, options: RulesThreadPolicyOptions): RulesThreadPolicy {
    return new RulesThreadPolicy(execPolicy, options);
  }

  get execPolicy(): ExecPolicy {
    return this.#execPolicy;
  }

  assess(action: ProposedAction, ctx: PolicyContext): Assessment {
    return assessAction(action, { approvalPolicy: ctx.approvalPolicy, sandbox: ctx.sandbox, execPolicy: this.#execPolicy, grants: this.grants });
  }

  grantForSession(action: ProposedAction): void {
    this.grants.grantFor(action);
  }

  async addRule(rule: PrefixRuleProposal): Promise<void> {
    const file = defaultRulesFile(this.#home);
    await appendPrefixRule(file, rule);
    await this.#reload(renderPrefixRule(rule), file);
  }

  /** Appends network_rule(host=…, decision=…) to default.rules; later commands' proxies get it. */
  async addNetworkRule(rule: NetworkRuleProposal): Promise<void> {
    const file = defaultRulesFile(this.#home);
    await appendNetworkRule(file, rule);
    await this.#reload(renderNetworkRule(rule), file);
  }

  proxyHostLists(): { allowHosts: string[]; denyHosts: string[] } {
    return this.#execPolicy.proxyHostLists();
  }

  async #reload(added: string, file: string): Promise<void> {
    try {
      this.#execPolicy = await ExecPolicy.load(rulesDir(this.#home));
    } catch (err) {
      this.#execPolicy = this.#execPolicy.withRuleText(added, file);
      this.#warn(`the rule was saved but the rule files could not be reloaded (${TetherError.from(err).message}); it applies to this thread only until they are fixed`);
    }
  }
}
