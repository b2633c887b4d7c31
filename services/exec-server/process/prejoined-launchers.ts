// Launchers placed in fresh pids cgroups ahead of time. Moving a process into a cgroup
// (a write to cgroup.procs) waits for an RCU grace period once the kernel's cgroup
// migration has gone idle: ~12 ms on the first Start after a quiet moment, which is the
// agent's rhythm (run, wait for the model, run). So the zygote forks a child that joins a
// fresh cgroup now, and a Start hands it the request; the pool refills in the background,
// after the Start it served. The fork-bomb bound is unchanged: the launcher and all it
// forks are in the cgroup, limited by pids.max, from the target's first instruction.
import type { PidsCgroup, ProcessCgroup } from "./pids-cgroup.js";
import type { Prejoined, Zygote } from "./zygote.js";

export interface PrejoinedLauncher {
  readonly cgroup: ProcessCgroup;
  readonly prejoined: Prejoined;
}

interface Entry extends PrejoinedLauncher {
  readonly pidsMax: number;
}

export class PrejoinedLaunchers {
  readonly #zygote: Zygote;
  readonly #cgroups: PidsCgroup;
  readonly #size: number;
  readonly #ready: Entry[] = [];
  #filling: Promise<void> | undefined;
  #closed = false;

  /** `size`: launchers kept waiting; a burst beyond it takes the join on its own path, as before. */
  constructor(zygote: Zygote, cgroups: PidsCgroup, size = 2) {
    this.#zygote = zygote;
    this.#cgroups = cgroups;
    this.#size = size;
  }

  /** A waiting launcher in a cgroup limited to `pidsMax`, if one is ready; undefined otherwise. */
  take(pidsMax: number): PrejoinedLauncher | undefined {
    while (this.#ready.length > 0) {
      const entry = this.#ready.shift()!;
      if (!entry.prejoined.closed && entry.pidsMax === pidsMax) return entry;
      void discard(entry).catch(() => undefined); // its child left, or the limit changed
    }
    return undefined;
  }

  /** Tops the pool up to its size in the background (call after a Start, off its path). */
  refill(pidsMax: number): void {
    if (this.#closed || this.#filling !== undefined || this.#ready.length >= this.#size) return;
    this.#filling = this.#fill(pidsMax)
      .catch(() => undefined) // best effort: a Start without a ready launcher joins on its own
      .finally(() => (this.#filling = undefined));
  }

  /** Lets the waiting launchers go (they read EOF and leave) and removes their cgroups. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#filling;
    await Promise.all(this.#ready.splice(0).map(discard));
  }

  async #fill(pidsMax: number): Promise<void> {
    while (!this.#closed && this.#ready.length < this.#size) {
      const cgroup = await this.#cgroups.create(pidsMax, { background: true });
      const prejoined = await this.#zygote.prejoin(cgroup.dir).catch(() => undefined);
      if (prejoined === undefined || this.#closed) {
        await discard({ cgroup, prejoined });
        return;
      }
      this.#ready.push({ cgroup, prejoined, pidsMax });
    }
  }
}

async function discard(entry: { cgroup: ProcessCgroup; prejoined: Prejoined | undefined }): Promise<void> {
  entry.prejoined?.conn.destroy();
  await entry.cgroup.finish();
}
