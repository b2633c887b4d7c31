// Labels that tie a container environment to the tether process that started it, and the
// sweep that removes those whose owner died without closing them.
import { rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import type Dockerode from "dockerode";
import { TetherError } from "../../services/common/tether-error.js";

export const ENV_LABEL = "tether.env";
const OWNER_PID_LABEL = "tether.owner-pid";
const OWNER_HOST_LABEL = "tether.owner-host";
/** Where the provider makes socket directories (mkdtemp prefix). */
export const SOCKET_DIR_PREFIX = path.join(tmpdir(), "tether-docker-");

/** The labels of a container this process owns. */
export function ownerLabels(): Record<string, string> {
  return { [ENV_LABEL]: "1", [OWNER_PID_LABEL]: String(process.pid), [OWNER_HOST_LABEL]: hostname() };
}

/**
 * Removes containers left by tether processes on this host that died without closing them,
 * and their socket directories (mounted at `socketDirInContainer`). Failures are logged:
 * a sweep that cannot run must not stop a new environment.
 */
export async function removeStaleContainers(docker: Dockerode, socketDirInContainer: string, log: (msg: string) => void): Promise<void> {
  try {
    const startedAt = Math.floor((Date.now() - process.uptime() * 1000) / 1000);
    const stale = await docker.listContainers({ all: true, filters: { label: [`${ENV_LABEL}=1`, `${OWNER_HOST_LABEL}=${hostname()}`] } });
    for (const c of stale) {
      const pid = Number(c.Labels[OWNER_PID_LABEL]);
      if (c.Created >= startedAt || !Number.isInteger(pid) || pid === process.pid || pidAlive(pid)) continue;
      await docker.getContainer(c.Id).remove({ force: true, v: true });
      for (const m of c.Mounts) {
        if (m.Destination === socketDirInContainer && m.Source.startsWith(SOCKET_DIR_PREFIX)) await rm(m.Source, { recursive: true, force: true });
      }
      log(`docker: removed stale container ${c.Names[0] ?? c.Id} (its owner pid ${pid} is gone)`);
    }
  } catch (err) {
    log(`docker: could not sweep stale containers: ${TetherError.from(err).message}`);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
