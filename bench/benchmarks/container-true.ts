// Running `true` in a container: tether's container environment against `docker run --rm`
// and `docker exec` into a running container. Runs only when a docker daemon answers and
// an image is local (TETHER_BENCH_IMAGE, or the first local image).
import type { Benchmark, BenchContext, Subject } from "../benchmark.js";
import { spawnToExit, timeMs } from "../benchmark.js";
import { EnvironmentTarget } from "../environment-target.js";
import { runProgram } from "../ssh-peer.js";
import type { DockerEnvironmentPool } from "../../clients/environment/docker-environment-pool.js";

/**
 * Create, run `true`, close; with `untilRemoved` the time also covers the container's removal,
 * as `docker run --rm` does. Either way the sample ends only once the container is gone, so
 * no cleanup overlaps the next subject's sample.
 */
async function tetherStartTrue(image: string, untilRemoved: boolean): Promise<number> {
  const { startDockerEnvironment } = await import("../../clients/environment/docker-provider.js");
  const started = performance.now();
  const env = await startDockerEnvironment({ image });
  try {
    await new EnvironmentTarget("container", env).runTrue();
  } finally {
    await env.close();
  }
  const closed = performance.now();
  await env.removed;
  return (untilRemoved ? performance.now() : closed) - started;
}

interface Docker {
  image?: string;
  why?: string;
  container?: string;
}

async function findDocker(signal: AbortSignal): Promise<Docker> {
  const timeout = AbortSignal.any([signal, AbortSignal.timeout(5000)]);
  try {
    await runProgram("docker", ["info", "--format", "{{.ServerVersion}}"], { signal: timeout });
  } catch {
    return { why: "docker does not answer (start dockerd to include it)" };
  }
  const wanted = process.env.TETHER_BENCH_IMAGE ?? "tether-exec-server:latest";
  if (wanted) return { image: wanted };
  const out = await runProgram("docker", ["images", "--format", "{{.Repository}}:{{.Tag}}"], { signal: timeout });
  const image = out.stdout.toString().split("\n").find((l) => l && !l.includes("<none>"));
  return image ? { image } : { why: "no local docker image (set TETHER_BENCH_IMAGE)" };
}

export const containerTrue: Benchmark = {
  name: "container-true",
  title: "Run `true` in a container",
  unit: "ms",
  better: "lower",
  rounds: (quick) => (quick ? { warmup: 0, measured: 2 } : { warmup: 3, measured: 40 }),
  subjects(ctx: BenchContext): Subject[] {
    const docker: Docker = {};
    let probed: Promise<Docker> | undefined;
    const probe = async () => {
      probed ??= findDocker(ctx.signal).then((d) => Object.assign(docker, d));
      await probed;
      return docker.why;
    };
    const image = ctx.tether.containerImage;
    let pool: DockerEnvironmentPool | undefined;
    const noTarget = async () => (image ? undefined : "no container tether target");
    return [
      {
        name: "tether container environment: create, run true, close",
        role: "tether",
        setup: noTarget,
        sample: () => tetherStartTrue(image!, false),
      },
      {
        name: "tether container environment: … and wait until removed",
        role: "tether",
        setup: noTarget,
        sample: () => tetherStartTrue(image!, true),
      },
      {
        // Opt-in, not the default path: containers started ahead of time wait idle.
        name: "tether warm pool (opt-in): take, run true, close",
        role: "tether",
        async setup() {
          if (!image) return "no container tether target";
          const { DockerEnvironmentPool } = await import("../../clients/environment/docker-environment-pool.js");
          pool = new DockerEnvironmentPool({ image, size: 1 });
          return undefined;
        },
        async sample() {
          // The refill and the removal run outside the clock and before the next subject.
          await pool!.ready();
          const started = performance.now();
          const env = await pool!.take();
          try {
            await new EnvironmentTarget("container", env).runTrue();
          } finally {
            await env.close();
          }
          const ms = performance.now() - started;
          await env.removed;
          await pool!.ready();
          return ms;
        },
        teardown: async () => pool?.close(),
      },
      {
        name: "docker run --rm IMAGE true",
        role: "peer",
        setup: probe,
        sample: () => timeMs(() => spawnToExit("docker", ["run", "--rm", docker.image!, "true"])),
      },
      {
        name: "docker exec CONTAINER true",
        role: "peer",
        async setup() {
          const why = await probe();
          if (why) return why;
          const out = await runProgram("docker", ["run", "-d", "--rm", docker.image!, "sleep", "infinity"]);
          docker.container = out.stdout.toString().trim();
          return undefined;
        },
        sample: () => timeMs(() => spawnToExit("docker", ["exec", docker.container!, "true"])),
        async teardown() {
          if (docker.container) await runProgram("docker", ["rm", "-f", docker.container]);
        },
      },
    ];
  },
};
