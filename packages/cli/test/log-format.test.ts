/** The daemon's log format: readable on a terminal, JSON otherwise, unless a flag, env or config file says. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultLogFormat } from '../src/commands/daemon.js'

let dir: string
test.before(async () => { dir = await mkdtemp(join(tmpdir(), 'shoal-logfmt-')) })
test.after(async () => { await rm(dir, { recursive: true, force: true }) })

test('nothing set: pretty on a TTY, json otherwise', async () => {
  assert.is(await defaultLogFormat({ dataDir: dir }, {}, true), 'pretty')
  assert.is(await defaultLogFormat({ dataDir: dir }, {}, false), 'json')
})

test('a flag, SHOAL_LOG_FORMAT or the config file decides, even on a TTY', async () => {
  assert.is(await defaultLogFormat({ dataDir: dir, logFormat: 'json' }, {}, true), undefined)
  assert.is(await defaultLogFormat({ dataDir: dir }, { SHOAL_LOG_FORMAT: 'json' }, true), undefined)
  await writeFile(join(dir, 'config.json'), JSON.stringify({ logFormat: 'json' }))
  assert.is(await defaultLogFormat({ dataDir: dir }, {}, true), undefined)
})

test.run()
