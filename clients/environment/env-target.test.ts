import { describe, expect, it } from "vitest";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";
import { explainConnectError, parseEnvTarget, type NetworkTarget } from "./env-target.js";

const unix = parseEnvTarget("unix:///tmp/nope.sock") as NetworkTarget;
const tcp = parseEnvTarget("grpc://127.0.0.1:1") as NetworkTarget;

describe("explainConnectError", () => {
  it("says the reason once, without grpc-js's wrapping or a repeated method and target", () => {
    const grpcJs = new TetherError(ErrorCode.Unavailable, "No connection established. Last error: Error: connect ENOENT /tmp/nope.sock. Resolution note: ");
    expect(explainConnectError(grpcJs, unix).message).toBe(
      "cannot reach unix:///tmp/nope.sock: connect ENOENT /tmp/nope.sock; is an exec server listening on /tmp/nope.sock? start one with: tether exec-server --listen unix:///tmp/nope.sock",
    );
    const lean = new TetherError(ErrorCode.Unavailable, "/tether.exec.v1.SessionService/OpenSession: cannot reach grpc://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1");
    expect(explainConnectError(lean, tcp).message).toBe("cannot reach grpc://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1; is an exec server listening on 127.0.0.1:1?");
  });

  it("says a grpcs server's untrusted certificate is what to fix (--ca-file), not whether a server listens", () => {
    const tls = parseEnvTarget("grpcs://127.0.0.1:2") as NetworkTarget;
    const untrusted = new TetherError(ErrorCode.Unavailable, "/tether.exec.v1.SessionService/OpenSession: cannot reach grpcs://127.0.0.1:2: unable to verify the first certificate; if the root CA is installed locally, try running Node.js with --use-system-ca");
    expect(explainConnectError(untrusted, tls).message).toBe(
      "cannot reach grpcs://127.0.0.1:2: unable to verify the first certificate; the server's certificate is not trusted here: pass --ca-file with the CA that signed it, or add that CA to this machine's (NODE_EXTRA_CA_CERTS=FILE)",
    );
    const refused = new TetherError(ErrorCode.Unavailable, "connect ECONNREFUSED 127.0.0.1:2");
    expect(explainConnectError(refused, tls).message).toBe("cannot reach grpcs://127.0.0.1:2: connect ECONNREFUSED 127.0.0.1:2; is an exec server listening on 127.0.0.1:2 with TLS (check --ca-file)?");
  });

  it("keeps other errors as they are", () => {
    const denied = new TetherError(ErrorCode.Unauthenticated, "bad token");
    expect(explainConnectError(denied, tcp)).toBe(denied);
  });
});
