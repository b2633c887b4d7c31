// `default_env` for a `tether run` without --env, read on the start-up path without the TOML
// parser or zod (load-config.ts, which `tether run` must not pay for): a top-level
// `default_env = "…"` line in the home config.toml (a project's file may set it only when the
// project is trusted, which only the full loader knows). Anything this cannot be sure
// of (a profile that may override it, a value it cannot read) answers "unsure", and the
// caller takes the full path, which loads the whole config.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";

export type DefaultEnv = { env: string } | "none" | "unsure";

/** What one file says: a value, nothing, or something only the full loader can read. */
function scan(text: string): DefaultEnv {
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    // A table header ends the top level: keys below it are not default_env.
    if (line.startsWith("[")) return "none";
    if (/^profile\s*=/.test(line)) return "unsure";
    if (!/^"?default_env"?\s*=/.test(line)) continue;
    const m = /^"?default_env"?\s*=\s*(?:"([^"\\]*)"|'([^']*)')\s*(?:#.*)?$/.exec(line);
    return m ? { env: m[1] ?? m[2]! } : "unsure";
  }
  return "none";
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    // No such file (the usual case) or unreadable: the full loader reports a real error.
    return undefined;
  }
}

export function readDefaultEnv(cwd: string = process.cwd(), env: NodeJS.ProcessEnv = process.env): DefaultEnv {
  if (env.TETHER_PROFILE) return "unsure";
  if (env.TETHER_ENV) return { env: env.TETHER_ENV };
  const home = env.TETHER_HOME ? resolve(env.TETHER_HOME) : join(homedir(), ".tether");
  const homeFile = join(home, "config.toml");
  let project: DefaultEnv = "none";
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const file = join(dir, ".tether", "config.toml");
    const text = file === homeFile ? undefined : readText(file);
    if (text !== undefined) {
      project = scan(text);
      break;
    }
    if (dirname(dir) === dir) break;
  }
  const homeText = readText(homeFile);
  const home_ = homeText === undefined ? "none" : scan(homeText);
  // Either file may name a profile that overrides the other's value; and a project's value
  // counts only if the user trusts the project (resolve-config.ts): the full loader decides.
  if (project !== "none" || home_ === "unsure") return "unsure";
  return home_;
}
