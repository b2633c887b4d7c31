// Where the tether package lives on disk and its version, whether this module runs
// from the TypeScript sources, from dist/, or from a bundle inside a container image.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

interface PackageJson {
  name?: unknown;
  version?: unknown;
}

let cachedRoot: string | null | undefined;

function readPackageJson(file: string): PackageJson | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as PackageJson;
  } catch {
    // Missing or foreign package.json at this level: the caller keeps walking up.
    return undefined;
  }
}

/** The nearest directory upwards whose package.json is named "tether", or undefined. */
export function packageRoot(start = dirname(fileURLToPath(import.meta.url))): string | undefined {
  if (cachedRoot !== undefined) return cachedRoot ?? undefined;
  for (let dir = start; ; dir = dirname(dir)) {
    if (readPackageJson(join(dir, "package.json"))?.name === "tether") return (cachedRoot = dir);
    if (dirname(dir) === dir) {
      cachedRoot = null;
      return undefined;
    }
  }
}

export function packageVersion(): string {
  const root = packageRoot();
  const version = root ? readPackageJson(join(root, "package.json"))?.version : undefined;
  return typeof version === "string" ? version : "0.0.0-unknown";
}
