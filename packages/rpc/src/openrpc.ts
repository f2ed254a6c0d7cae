/**
 * Docs derived from the method table, so they cannot drift from what the server validates: an OpenRPC 1.2.6
 * document, and the Markdown of docs/rpc.md.
 */
import { RPC_ERROR_DOCS, RpcErrorCode } from './errors.js'
import { listMethods, type MethodDef, type MethodErrorDoc, type MethodTable } from './method-table.js'
import type { JsonSchema, ObjectSchema, Schema } from './schema.js'

export interface OpenRpcInfo { title: string, version: string, description?: string }

/** Errors any method can return, listed with each method after its own. */
const COMMON_ERRORS: readonly MethodErrorDoc[] = [
  { code: RpcErrorCode.INVALID_PARAMS, message: 'Invalid params' },
  { code: RpcErrorCode.TIMEOUT, message: 'Request timed out' }
]

export function toOpenRpc<Ctx> (methods: MethodTable<Ctx>, info: OpenRpcInfo): Record<string, unknown> {
  return {
    openrpc: '1.2.6',
    info: info.description === undefined ? { title: info.title, version: info.version } : { ...info },
    methods: sorted(methods).map(def => ({
      name: def.name,
      description: def.description,
      paramStructure: 'by-name',
      params: Object.entries(paramsOf(def).fields).map(([name, schema]) => {
        const param: Record<string, unknown> = { name, required: paramsOf(def).isRequired(name), schema: schema.toJSONSchema() }
        if (schema.description !== undefined) param.description = schema.description
        return param
      }),
      result: { name: 'result', schema: def.result.toJSONSchema() },
      errors: errorsOf(def)
    }))
  }
}

/** The body of docs/rpc.md: transport, error codes, then one section per method (sorted by name). */
export function toMarkdown<Ctx> (methods: MethodTable<Ctx>, opts: { title?: string } = {}): string {
  const out: string[] = []
  out.push(`# ${opts.title ?? 'RPC methods'}`, '')
  out.push('<!-- Generated from the RPC method table; do not edit by hand. -->', '')
  out.push('JSON-RPC 2.0 over HTTP: `POST /rpc` on loopback, header `Authorization: Bearer <token>`, body a request',
    'object or a batch array. Params are **named** (an object); positional params (an array) are rejected with',
    '-32602. Unknown params fields are rejected. A request without `id` is a notification and gets no answer',
    '(a batch of only notifications gets HTTP 204).', '')
  out.push('## Error codes', '', '| Code | Name | Meaning |', '| ---: | --- | --- |')
  for (const e of RPC_ERROR_DOCS) out.push(`| ${e.code} | ${e.name} | ${cell(e.meaning)} |`)
  out.push('')
  out.push('Application errors carry their stable string code in `error.data.code` (e.g. `ERR_NOT_FOUND`).', '')
  out.push('## Methods', '')
  for (const def of sorted(methods)) out.push(...methodSection(def))
  return out.join('\n').replace(/\n+$/, '\n')
}

function methodSection (def: MethodDef<any, string, any, any>): string[] {
  const lines = [`### ${def.name}`, '', def.description, '']
  const params = paramsOf(def)
  const fields = Object.entries(params.fields)
  if (fields.length === 0) {
    lines.push('Params: none (send `{}` or omit `params`).', '')
  } else {
    lines.push('| Param | Type | Required | Description |', '| --- | --- | --- | --- |')
    for (const [name, schema] of fields) {
      lines.push(`| \`${name}\` | ${cell(schema.expected)} | ${params.isRequired(name) ? 'yes' : 'no'} | ${cell(schema.description ?? '')} |`)
    }
    lines.push('')
    // The type phrase flattens nested structures; spell them out as JSON Schema.
    if (fields.some(([, schema]) => NESTED.has(schema.kind === 'optional' || schema.kind === 'nullable' ? nestedKind(schema) : schema.kind))) {
      lines.push('Params schema:', '', '```json', JSON.stringify(params.toJSONSchema(), null, 2), '```', '')
    }
  }
  lines.push(`Result: ${def.result.expected}.`, '', '```json', JSON.stringify(def.result.toJSONSchema() as JsonSchema, null, 2), '```', '')
  lines.push('| Error code | Message |', '| ---: | --- |')
  for (const e of errorsOf(def)) lines.push(`| ${e.code} | ${cell(e.message)} |`)
  lines.push('')
  return lines
}

const NESTED = new Set(['object', 'array', 'record', 'oneOf'])

/** Optional and nullable wrappers hide the inner kind; their JSON Schema tells it. */
function nestedKind (schema: Schema<unknown>): string {
  const json = schema.toJSONSchema()
  return json.type === 'object' || json.type === 'array' || 'anyOf' in json ? 'object' : 'scalar'
}

function paramsOf (def: MethodDef<any, string, any, any>): ObjectSchema {
  return def.params
}

function errorsOf (def: MethodDef<any, string, any, any>): MethodErrorDoc[] {
  const own = def.errors ?? []
  return [...own, ...COMMON_ERRORS.filter(c => !own.some(e => e.code === c.code))].map(e => ({ code: e.code, message: e.message }))
}

function sorted<Ctx> (methods: MethodTable<Ctx>): Array<MethodDef<Ctx, string, any, any>> {
  return listMethods(methods).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
}

/** Markdown table cells cannot hold raw pipes or newlines. */
function cell (text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')
}
