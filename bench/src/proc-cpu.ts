/** CPU time of other processes, from Linux's /proc: what a bench reports beside a rate. */
import { execFileSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'

/** Clock ticks per second of /proc/<pid>/stat's utime and stime. */
const CLK_TCK = ((): number => {
  try { return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100 } catch { return 100 }
})()

/** User + system CPU time of process `pid` so far (all its threads), in ms; resolution 1/CLK_TCK s. */
export async function cpuMs (pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  // Fields after the ")" that ends the command name; utime and stime are fields 14 and 15 of the whole line.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(rest[11]) + Number(rest[12])) * 1000 / CLK_TCK
}

/** The summed CPU time of several processes, in ms. */
export async function totalCpuMs (pids: number[]): Promise<number> {
  return (await Promise.all(pids.map(cpuMs))).reduce((a, b) => a + b, 0)
}
