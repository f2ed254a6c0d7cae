/** docs/rpc.md is generated from the method table; this fails when someone changes one without the other. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const script = fileURLToPath(new URL('../../scripts/gen-rpc-docs.mjs', import.meta.url))

test('docs/rpc.md matches the method table (run `node scripts/gen-rpc-docs.mjs` to refresh it)', async () => {
  const result = await new Promise<{ code: number, out: string }>(resolve => {
    execFile(process.execPath, [script, '--check'], (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : 1, out: stdout + stderr })
    })
  })
  assert.is(result.code, 0, result.out)
})

test.run()
