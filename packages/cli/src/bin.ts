#!/usr/bin/env node
import { main } from './main.js'

const code = await main(process.argv.slice(2))
process.exitCode = code
// A daemon's libp2p timers may linger after a graceful stop; the exit code is decided, so leave.
if (process.argv[2] === 'daemon' || process.argv[2] === 'demo') process.exit(code)
