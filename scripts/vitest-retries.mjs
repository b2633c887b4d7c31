// A vitest reporter that lists, for scripts/test.sh, every test that needed a retry
// (`retry: 1` in CI would otherwise turn a flake into a pass) and every skipped test,
// as JSON in $TETHER_TEST_NOTES. Plain JS: it is loaded by vitest, not compiled.
import fs from "node:fs";
import path from "node:path";

export default class RetriesReporter {
  onInit(ctx) {
    this.root = ctx.config.root;
  }

  onFinished(files = []) {
    const out = process.env.TETHER_TEST_NOTES;
    if (!out) return;
    const retried = [];
    const skipped = [];
    const visit = (task, names) => {
      const here = task.type === "suite" && task.name && !task.filepath ? [...names, task.name] : names;
      if (task.type === "test") {
        const name = `${path.relative(this.root ?? process.cwd(), task.file?.filepath ?? "")} > ${[...here, task.name].join(" > ")}`;
        const retries = task.result?.retryCount ?? 0;
        if (retries > 0) retried.push({ name, retries, state: task.result?.state ?? "unknown" });
        if (task.mode === "skip" || task.mode === "todo" || task.result?.state === "skip") skipped.push({ name });
      }
      for (const child of task.tasks ?? []) visit(child, here);
    };
    for (const file of files) visit(file, []);
    fs.writeFileSync(out, JSON.stringify({ retried, skipped }));
  }
}
