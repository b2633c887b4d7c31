// `make tool-schemas`: writes services/agent-server/tools/tool-parameters.gen.ts, the strict JSON
// schemas of the default tools, from their zod schemas (render-tool-parameters.ts). The
// TypeScript is bundled with esbuild into a temporary dist.tmp-* directory (beside node_modules,
// so its packages resolve) and run: no TypeScript loader.
import { build } from "esbuild";
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dir = path.join(root, `dist.tmp-tool-schemas-${process.pid}`);
try {
  const outfile = path.join(dir, "render.mjs");
  const entry = path.join(root, "services/agent-server/tools/render-tool-parameters.ts");
  await build({ entryPoints: [entry], outfile, bundle: true, packages: "external", platform: "node", format: "esm", target: "node24", logLevel: "warning" });
  const m = await import(pathToFileURL(outfile).href);
  const tools = await m.toolParametersFromZod();
  await writeFile(path.join(root, m.TOOL_PARAMETERS_FILE), m.renderToolParameters(tools));
  console.error(`tool-schemas: wrote ${m.TOOL_PARAMETERS_FILE} (${tools.map((t) => t.name).join(", ")})`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
