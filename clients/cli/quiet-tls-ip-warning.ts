// grpc-js sets the TLS servername to the target's host even when that is an IP address
// (grpcs://127.0.0.1:…), and Node then prints DEP0123 ("Setting the TLS ServerName to an IP
// address…") on every such connection. The certificate is still checked against the IP, so the
// warning tells a user of the CLI nothing they can act on: only that one warning is dropped.
const IP_SERVERNAME_WARNING = "DEP0123";

export function quietTlsIpWarning(): void {
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((...args: unknown[]) => {
    const code = typeof args[1] === "object" && args[1] !== null ? (args[1] as { code?: unknown }).code : args[2];
    if (code === IP_SERVERNAME_WARNING) return;
    emit(...args);
  });
}
