/**
 * Runs a schedule against the cluster: each fault starts at its offset, is undone after its duration, and is
 * written to the history. Kinds the environment cannot inject (no root for tmpfs, no libfaketime) are skipped
 * and counted as skipped, never as injected.
 */
import type { ChaosCluster } from './cluster.js'
import type { History } from './history.js'
import { showFault } from './schedule.js'
import type { Fault, FaultKind, PartitionShape } from './types.js'

export interface NemesisReport {
  injected: Record<FaultKind, number>
  skipped: Record<FaultKind, number>
  /** Partitions injected, by shape. */
  shapes: Record<PartitionShape, number>
  /** Scheduled faults that had not started when the run ended (the nemesis runs late when restarts are slow). */
  dropped: number
  /** Harness time the last fault was undone. */
  lastHealAt?: number
}

export interface NemesisInit {
  cluster: ChaosCluster
  history: History
  /** Kinds this environment can inject. */
  available: ReadonlySet<FaultKind>
  log: (line: string) => void
}

const sleep = async (ms: number, signal: AbortSignal): Promise<void> => await new Promise(resolve => {
  if (signal.aborted || ms <= 0) { resolve(); return }
  const t = setTimeout(done, ms)
  function done (): void { clearTimeout(t); signal.removeEventListener('abort', done); resolve() }
  signal.addEventListener('abort', done, { once: true })
})

export async function runNemesis (init: NemesisInit, schedule: Fault[], startedAt: number, signal: AbortSignal): Promise<NemesisReport> {
  const zero = (): Record<FaultKind, number> => ({ kill: 0, pause: 0, partition: 0, skew: 0, disk: 0, wipe: 0 })
  const report: NemesisReport = { injected: zero(), skipped: zero(), shapes: { 'majority-minority': 0, bridge: 0, isolate: 0 }, dropped: 0 }
  for (const [n, f] of schedule.entries()) {
    await sleep(startedAt + f.at - Date.now(), signal)
    if (signal.aborted) { report.dropped = schedule.length - n; break }
    if (!init.available.has(f.kind)) { report.skipped[f.kind]++; continue }
    init.log(`nemesis: ${showFault(f)}`)
    init.history.note({ phase: 'start', fault: f })
    try {
      await inject(init.cluster, f, signal)
      report.injected[f.kind]++
      if (f.shape !== undefined) report.shapes[f.shape]++
    } catch (err) {
      init.log(`nemesis: ${f.kind} failed: ${(err as Error).message}`)
      init.history.note({ phase: 'error', fault: f, error: (err as Error).message })
    }
    // A supervisor's restart for daemons that crashed on their own during the fault (counted in the report).
    for (const i of init.cluster.indexes) if (!init.cluster.isUp(i)) await init.cluster.restart(i)
    report.lastHealAt = Date.now()
    init.history.note({ phase: 'stop', fault: f })
  }
  return report
}

/** Injects one fault and undoes it after its duration (or at once when the run is aborted). */
async function inject (c: ChaosCluster, f: Fault, signal: AbortSignal): Promise<void> {
  const node = f.nodes[0]!
  switch (f.kind) {
    case 'kill':
      await c.kill(node)
      await sleep(f.durationMs, signal)
      await c.restart(node)
      return
    case 'wipe':
      await c.kill(node)
      await sleep(f.durationMs, signal)
      await c.wipe(node)
      return
    case 'pause':
      c.pause(node)
      await sleep(f.durationMs, signal)
      c.resume(node)
      return
    case 'disk':
      await c.fillDisk(node)
      await sleep(f.durationMs, signal)
      await c.freeDisk(node)
      return
    case 'skew':
      await c.setClock(node, f.offsetMs ?? 0)
      if (f.jumpMs !== undefined) {
        await sleep(f.durationMs / 2, signal)
        await c.setClock(node, (f.offsetMs ?? 0) + f.jumpMs)
        await sleep(f.durationMs / 2, signal)
      } else {
        await sleep(f.durationMs, signal)
      }
      await c.setClock(node, 0)
      return
    case 'partition':
      await c.partition(f.groups ?? [f.nodes])
      await sleep(f.durationMs, signal)
      await c.healNetwork()
  }
}
