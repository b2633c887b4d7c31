// The command prefix that gives a network-less sandbox its one way out: a tiny node relay
// inside the sandbox listens on 127.0.0.1:PORT and forwards every connection to the
// managed proxy's Unix socket, which is bind-mounted in. HTTP(S)_PROXY point at it.

/** Inside the sandbox's own network namespace nothing else listens, so a fixed port is safe. */
export const RELAY_PORT = 3128;

// Runs as `node -e RELAY_SOURCE <socket> <port>`. Readiness is "ready\n" on stdout followed
// by closing stdout, which is what ends the shell's command substitution below.
// node resets signal dispositions at start, so the terminal signals the shell's background
// job would have ignored are ignored here again (the pid namespace ends the relay).
const RELAY_SOURCE = `
const net = require("net"), fs = require("fs");
const [sock, port] = process.argv.slice(1);
for (const s of ["SIGINT", "SIGQUIT", "SIGTSTP", "SIGHUP"]) process.on(s, () => {});
// Hand-rolled forwarding instead of pipe(): pipe() peeks at process.stdout, which would
// reopen the fd 1 closed after "ready".
const link = (from, to) => {
  from.on("data", (d) => { if (!to.write(d)) from.pause(); });
  to.on("drain", () => from.resume());
  from.on("end", () => to.end());
  from.on("error", () => to.destroy());
  from.on("close", () => to.destroy());
};
const server = net.createServer((c) => { const u = net.connect(sock); link(c, u); link(u, c); });
server.on("error", (e) => { process.stderr.write("tether sandbox relay: " + e.message + "\\n"); process.exit(1); });
server.listen(Number(port), "127.0.0.1", () => { fs.writeSync(1, "ready\\n"); fs.closeSync(1); });
`;

// `$(... &)` returns once the background relay closes stdout, i.e. once it listens, so the
// command never races the relay. exit 125 mirrors env(1)'s "could not run" status.
const SHELL_SCRIPT = [
  'ready=$(NODE_OPTIONS= "$1" -e "$2" "$3" "$4" </dev/null &)',
  'if [ "$ready" != ready ]; then echo "tether: the sandbox network relay did not start" >&2; exit 125; fi',
  "shift 4",
  'exec "$@"',
].join("\n");

// The same for build/native/tether-net-relay (PORT SOCKET): no node start-up in every sandboxed command.
const NATIVE_SHELL_SCRIPT = [
  'ready=$("$1" "$2" "$3" </dev/null &)',
  'if [ "$ready" != ready ]; then echo "tether: the sandbox network relay did not start" >&2; exit 125; fi',
  "shift 3",
  'exec "$@"',
].join("\n");

/**
 * argv that starts the relay inside the sandbox, then execs `command` in its place: the native
 * relay when it is built (`relayPath`), else the node one.
 */
export function relayPrefixedArgv(options: { relayPath?: string; nodePath: string; socketPath: string; port: number; command: string[] }): string[] {
  if (options.relayPath !== undefined) {
    return ["/bin/sh", "-c", NATIVE_SHELL_SCRIPT, "tether-sandbox", options.relayPath, String(options.port), options.socketPath, ...options.command];
  }
  return ["/bin/sh", "-c", SHELL_SCRIPT, "tether-sandbox", options.nodePath, RELAY_SOURCE, options.socketPath, String(options.port), ...options.command];
}

export function proxyEnv(port: number): Record<string, string> {
  const url = `http://127.0.0.1:${port}`;
  return { HTTP_PROXY: url, HTTPS_PROXY: url, ALL_PROXY: url, http_proxy: url, https_proxy: url, all_proxy: url };
}
