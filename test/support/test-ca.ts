// Throw-away certificate authorities for TLS and mTLS tests, made with the openssl CLI:
// an EC P-256 CA, a server certificate with SANs for the given hosts, and a client certificate.
import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { ErrorCode, TetherError } from "../../services/common/tether-error.js";

const execFileAsync = promisify(execFile);

export interface TestCa {
  /** Directory holding every file below. */
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  caCertPem: Buffer;
  serverCertPem: Buffer;
  serverKeyPem: Buffer;
  clientCertPem: Buffer;
  clientKeyPem: Buffer;
  /** The hosts the server certificate names (IP and DNS SANs). */
  hosts: string[];
}

export interface TestCaOptions {
  /** The CA's common name; differs between CAs so failures name the CA involved. */
  commonName?: string;
  /** Validity in days (default 2: long enough for any run, short if a key leaks). */
  days?: number;
}

/**
 * Creates a CA in `dir` (made if missing) plus a server certificate for `hosts` and a
 * client certificate, all signed by it. `hosts` are IP addresses or DNS names.
 */
export async function createTestCa(dir: string, hosts: string[], options: TestCaOptions = {}): Promise<TestCa> {
  if (hosts.length === 0) {
    throw new TetherError(ErrorCode.InvalidArgument, "createTestCa: hosts is empty: pass the IPs or names the server is reached by");
  }
  const commonName = options.commonName ?? "tether-test-ca";
  const days = String(options.days ?? 2);
  await mkdir(dir, { recursive: true });
  const path = (name: string): string => join(dir, name);
  const caCert = path("ca.crt");
  const caKey = path("ca.key");

  await openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", caKey]);
  await openssl([
    "req", "-x509", "-new", "-key", caKey, "-sha256", "-days", days, "-subj", `/CN=${commonName}`,
    "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    "-out", caCert,
  ]);

  const sans = hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(",");
  const server = await issue(dir, "server", { caCert, caKey, days, commonName: hosts[0] ?? "server", extensions: [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature",
    "extendedKeyUsage=serverAuth",
    `subjectAltName=${sans}`,
  ] });
  const client = await issue(dir, "client", { caCert, caKey, days, commonName: "tether-test-client", extensions: [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature",
    "extendedKeyUsage=clientAuth",
  ] });

  return {
    dir,
    caCert,
    caKey,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    caCertPem: await readFile(caCert),
    serverCertPem: await readFile(server.cert),
    serverKeyPem: await readFile(server.key),
    clientCertPem: await readFile(client.cert),
    clientKeyPem: await readFile(client.key),
    hosts: [...hosts],
  };
}

/**
 * A second, unrelated CA with its own server and client certificates, for negative tests:
 * a client trusting it rejects the real server, and its client certificate is refused by a
 * server that trusts the real CA.
 */
export async function createWrongCa(dir: string, hosts: string[]): Promise<TestCa> {
  return createTestCa(dir, hosts, { commonName: "tether-wrong-ca" });
}

interface IssueOptions {
  caCert: string;
  caKey: string;
  days: string;
  commonName: string;
  extensions: string[];
}

async function issue(dir: string, name: string, o: IssueOptions): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  // PKCS#8 keys: what node:tls and grpc-js both read without surprises.
  await openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key]);
  await openssl(["req", "-new", "-key", key, "-subj", `/CN=${o.commonName}`, "-out", csr]);
  await writeFile(ext, `${o.extensions.join("\n")}\n`);
  await openssl([
    "x509", "-req", "-in", csr, "-CA", o.caCert, "-CAkey", o.caKey, "-CAcreateserial",
    "-days", o.days, "-sha256", "-extfile", ext, "-out", cert,
  ]);
  return { cert, key };
}

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileAsync("openssl", args, { timeout: 30_000 });
  } catch (err) {
    const stderr = typeof err === "object" && err !== null && "stderr" in err ? String(err.stderr).trim() : "";
    throw new TetherError(
      ErrorCode.FailedPrecondition,
      `openssl ${args[0]} failed${stderr ? `: ${stderr}` : ""} (is openssl installed? scripts/setup.sh installs it)`,
      { cause: err },
    );
  }
}
