/**
 * A JSON value given on the command line: inline, `@FILE` or `-` (stdin), as `shoal kv put` takes it.
 * Inline text that looks like JSON (starts with `{`, `[`, `"`, a digit or a minus sign) must parse; other
 * inline text (a bare word) is taken as a string. A file or stdin must hold JSON.
 */
import { readFile } from 'node:fs/promises'
import { UsageError } from './args.js'

export interface ValueSources {
  readFile: (path: string) => Promise<string>
  readStdin: () => Promise<string>
}

export const processSources: ValueSources = {
  readFile: async path => await readFile(path, 'utf8'),
  readStdin: async () => {
    const chunks: Buffer[] = []
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  }
}

/** Text that a person meant as JSON, so a parse error must not turn it into a string silently. */
const LOOKS_LIKE_JSON = /^\s*[{["0-9-]/

/**
 * Returns the value `raw` stands for. Throws UsageError (exit code 2) naming `what` when a file cannot be read
 * or JSON does not parse; the message says how to store the text as a string instead.
 */
export async function readJsonValue (raw: string, command: string, what: string, src: ValueSources = processSources): Promise<unknown> {
  let text = raw
  let origin = what
  if (raw === '-') {
    text = await src.readStdin()
    origin = `${what} from stdin`
  } else if (raw.startsWith('@') && raw.length > 1) {
    const path = raw.slice(1)
    try {
      text = await src.readFile(path)
    } catch (err) {
      throw new UsageError(`shoal ${command}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}) for ${what}`)
    }
    origin = `${what} in ${path}`
  }
  try {
    return JSON.parse(text)
  } catch (err) {
    if (origin === what && !LOOKS_LIKE_JSON.test(text)) return text
    const reason = (err as Error).message.replace(/^Unexpected end of JSON input$/, 'it ends too early')
    const hint = origin === what ? `; to store it as a string, quote it: '${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)}'` : ''
    throw new UsageError(`shoal ${command}: ${origin} is not valid JSON (${reason})${hint}`)
  }
}
