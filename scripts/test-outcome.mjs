/**
 * What one uvu test file's run came to, read from its output and exit code (scripts/run-tests.mjs).
 * uvu prints "Total: N" for the tests that ran, "Passed: N" and "Skipped: N"; a skipped test is not in Total,
 * so it is never counted as passed nor as failed. A file that exits non-zero, or prints no summary (it crashed
 * or timed out), counts at least one failure.
 * @param {string} output the file's stdout and stderr
 * @param {number | null} code its exit code
 * @returns {{ ok: boolean, passed: number, failed: number, skipped: number }}
 */
export function testOutcome (output, code) {
  const plain = output.replace(/\x1b\[[0-9;]*m/g, '')
  const num = label => Number((new RegExp(`${label}:\\s+(\\d+)`).exec(plain) ?? [])[1] ?? NaN)
  const total = num('Total')
  const passed = Number.isFinite(num('Passed')) ? num('Passed') : 0
  const skipped = Number.isFinite(num('Skipped')) ? num('Skipped') : 0
  const ok = code === 0 && Number.isFinite(total)
  const failed = Number.isFinite(total) ? total - passed : 1
  return { ok, passed, failed: ok ? failed : Math.max(1, failed), skipped }
}
