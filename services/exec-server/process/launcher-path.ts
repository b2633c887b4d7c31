// Locates the helpers (tether-launch, tether-net-relay) that scripts/build-native.sh compiles
// into build/native/ of the tether package, wherever this module is loaded from (src or dist).
import { accessSync, constants, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ErrorCode, TetherError } from "../../common/tether-error.js";

let cached: string | undefined;

/** Absolute path of build/native/NAME, or undefined when it is not built (or not executable). */
export function nativeHelperPath(name: string): string | undefined {
  const root = packageRoot(dirname(fileURLToPath(import.meta.url)));
  const path = root === undefined ? undefined : join(root, "build", "native", name);
  return path !== undefined && isExecutable(path) ? path : undefined;
}

/** Absolute path of build/native/tether-launch; FailedPrecondition when it is not built. */
export function launcherPath(): string {
  if (cached !== undefined) return cached;
  const root = packageRoot(dirname(fileURLToPath(import.meta.url)));
  const path = root === undefined ? undefined : join(root, "build", "native", "tether-launch");
  if (path === undefined || !isExecutable(path)) {
    throw new TetherError(
      ErrorCode.FailedPrecondition,
      "tether-launch is not built: run `make setup` (scripts/build-native.sh)",
      { details: path === undefined ? {} : { path } },
    );
  }
  cached = path;
  return path;
}

/** The nearest directory upwards whose package.json is named "tether". */
function packageRoot(start: string): string | undefined {
  for (let dir = start; ; dir = dirname(dir)) {
    if (packageName(join(dir, "package.json")) === "tether") return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

function packageName(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    // No package.json at this level: keep walking up.
    return undefined;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null && "name" in parsed) {
      const name = (parsed).name;
      return typeof name === "string" ? name : undefined;
    }
  } catch {
    // A broken package.json of some other package is not ours to judge: keep walking.
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    // Missing or not executable: the caller reports how to build it.
    return false;
  }
}
