// Preloaded into an exec server that a load test runs as its own process (node --expose-gc
// --import): on SIGUSR2 it collects garbage and prints one line of memory figures to stderr,
// so the test can tell what the server keeps from what it merely has not collected yet.
// Plain JS: node loads it before the bundled server, with no TypeScript loader.
process.on("SIGUSR2", () => {
  // Twice, so what the first collection's finalizers released is gone as well.
  globalThis.gc();
  globalThis.gc();
  const { heapUsed, external, arrayBuffers, rss } = process.memoryUsage();
  process.stderr.write(`heap-probe ${JSON.stringify({ heapUsed, external, arrayBuffers, rss })}\n`);
});
