/**
 * Docs derived from the method table, so they cannot drift from what the server validates: an OpenRPC 1.2.6
 * document, and the Markdown of docs/rpc.md. Subscriptions are listed after the methods, marked WebSocket-only
 * (OpenRPC extension fields `x-transport` and `x-notification`).
 */
import { DEFAULT_WS_MAX_BUFFERED_BYTES, WS_MAX_INFLIGHT, WS_MAX_INFLIGHT_BYTES, WS_SLOW_CONSUMER_CLOSE_MS, WS_STALL_MS } from './constants.js'
import { RPC_ERROR_DOCS, RpcErrorCode, WS_ERROR_DOCS } from './errors.js'
import { listMethods, type MethodDef, type MethodErrorDoc, type MethodTable } from './method-table.js'
import { expectedOf } from '@shoal/core'
import { isRequired, toJSONSchema, type JsonSchema, type ObjectSchema, type Schema } from './schema.js'
import { listSubscriptions, UNSUBSCRIBE_METHOD, WS_PATH, WS_SUBPROTOCOL, type SubscriptionDef, type SubscriptionTable } from './subscription.js'

export interface OpenRpcInfo { title: string, version: string, description?: string }

/** Errors any method can return, listed with each method after its own. */
const COMMON_ERRORS: readonly MethodErrorDoc[] = [
  { code: RpcErrorCode.INVALID_PARAMS, message: 'Invalid params' },
  { code: RpcErrorCode.TIMEOUT, message: 'Request timed out' }
]

/** The answer to a subscription method; the notifications carry the same id. */
const SUBSCRIBED = { type: 'object', properties: { subscription: { type: 'string' } }, required: ['subscription'], additionalProperties: false }
const SUB_ERRORS: readonly MethodErrorDoc[] = [{ code: RpcErrorCode.LIMIT_EXCEEDED, message: 'Too many subscriptions' }]

export function toOpenRpc<Ctx> (methods: MethodTable<Ctx>, info: OpenRpcInfo, subscriptions?: SubscriptionTable<Ctx>): Record<string, unknown> {
  const subs = sortedSubs(subscriptions)
  const docs: Array<Record<string, unknown>> = sorted(methods).map(def => ({
    name: def.name,
    description: def.description,
    paramStructure: 'by-name',
    params: paramDocs(def.params),
    result: { name: 'result', schema: toJSONSchema(def.result) },
    errors: errorsOf(def)
  }))
  for (const def of subs) {
    docs.push({
      name: def.name,
      description: `${def.description} WebSocket only (GET ${WS_PATH}): answers { subscription }, then sends notifications.`,
      paramStructure: 'by-name',
      params: paramDocs(def.params),
      result: { name: 'subscription', schema: structuredClone(SUBSCRIBED) },
      errors: errorsOf({ errors: [...(def.errors ?? []), ...SUB_ERRORS] }),
      'x-transport': 'websocket',
      'x-notification': { name: 'result', schema: toJSONSchema(def.notification) }
    })
  }
  if (subs.length > 0) {
    docs.push({
      name: UNSUBSCRIBE_METHOD,
      description: 'Ends a subscription of this connection. WebSocket only.',
      paramStructure: 'by-name',
      params: [{ name: 'subscription', required: true, schema: { type: 'string' } }],
      result: { name: 'result', schema: { type: 'boolean', description: 'false for an unknown or already ended id' } },
      errors: [],
      'x-transport': 'websocket'
    })
  }
  return {
    openrpc: '1.2.6',
    info: info.description === undefined ? { title: info.title, version: info.version } : { ...info },
    methods: docs
  }
}

function paramDocs (params: ObjectSchema): Array<Record<string, unknown>> {
  return Object.entries(params.properties).map(([name, schema]) => {
    const param: Record<string, unknown> = { name, required: isRequired(params, name), schema: toJSONSchema(schema) }
    const description = descriptionOf(schema)
    if (description !== undefined) param.description = description
    return param
  })
}

/** The body of docs/rpc.md: transport, error codes, then one section per method (sorted by name). */
export function toMarkdown<Ctx> (methods: MethodTable<Ctx>, opts: { title?: string, subscriptions?: SubscriptionTable<Ctx> } = {}): string {
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
  const subs = sortedSubs(opts.subscriptions)
  if (subs.length > 0) {
    out.push(...wsIntro())
    for (const def of subs) out.push(...subscriptionSection(def))
  }
  return out.join('\n').replace(/\n+$/, '\n')
}

function wsIntro (): string[] {
  const lines = ['## Subscriptions (WebSocket only)', '',
    `Subscriptions are served only on the WebSocket endpoint \`GET ${WS_PATH}\` (same host and port), where every`,
    'method above works too (one JSON-RPC request or batch per text message). Auth happens before the upgrade:',
    `\`Authorization: Bearer <token>\`, or for browsers the subprotocols \`${WS_SUBPROTOCOL}, bearer.<token>\` (the`,
    `server selects \`${WS_SUBPROTOCOL}\`); otherwise HTTP 401. Over \`POST /rpc\` a subscription name gets -32600.`, '',
    'Calling a subscription answers `{ "subscription": "<id>" }`; then each notification is',
    '`{ "jsonrpc": "2.0", "method": "<name>", "params": { "subscription": "<id>", "result": ... } }`. A subscription',
    'that ends with an error sends `params: { subscription, error: { code, message, data } }` instead, and nothing',
    `after it. \`${UNSUBSCRIBE_METHOD} { "subscription": "<id>" }\` ends one and answers true (false for an unknown id).`, '',
    'A client that reads too slowly is dropped as a slow consumer: when its unsent queue passes',
    `${DEFAULT_WS_MAX_BUFFERED_BYTES / 1024 / 1024} MiB, when it takes nothing for ${WS_STALL_MS / 1000} s while data waits for it, or when a subscription gives up`,
    'on it. Every subscription of the socket then ends with -32011, nothing more is queued, the socket closes with',
    `code 1008 "slow consumer" and is cut ${WS_SLOW_CONSUMER_CLOSE_MS / 1000} s later if the client has not closed it. Requests being handled`,
    `per socket are bounded too (${WS_MAX_INFLIGHT}, or ${WS_MAX_INFLIGHT_BYTES / 1024 / 1024} MiB of request text): past that the socket is not read until some finish.`,
    'The server pings; a socket that answers no ping for a whole interval is cut. On shutdown the server closes',
    'sockets with 1001.', '',
    '| Code | Name | Meaning |', '| ---: | --- | --- |']
  for (const e of WS_ERROR_DOCS) lines.push(`| ${e.code} | ${e.name} | ${cell(e.meaning)} |`)
  lines.push('')
  return lines
}

function subscriptionSection (def: SubscriptionDef<any, string, any, any>): string[] {
  const lines = [`### ${def.name}`, '', `${def.description} *WebSocket only.*`, '', ...paramsTable(def.params)]
  lines.push(`Result: \`{ "subscription": "<id>" }\`. Notification \`result\`: ${phrase(def.notification)}.`, '',
    '```json', JSON.stringify(toJSONSchema(def.notification), null, 2), '```', '')
  lines.push('| Error code | Message |', '| ---: | --- |')
  for (const e of errorsOf({ errors: [...(def.errors ?? []), ...SUB_ERRORS] })) lines.push(`| ${e.code} | ${cell(e.message)} |`)
  lines.push('')
  return lines
}

function methodSection (def: MethodDef<any, string, any, any>): string[] {
  const lines = [`### ${def.name}`, '', def.description, '', ...paramsTable(def.params)]
  lines.push(`Result: ${phrase(def.result)}.`, '', '```json', JSON.stringify(toJSONSchema(def.result), null, 2), '```', '')
  lines.push('| Error code | Message |', '| ---: | --- |')
  for (const e of errorsOf(def)) lines.push(`| ${e.code} | ${cell(e.message)} |`)
  lines.push('')
  return lines
}

function paramsTable (params: ObjectSchema): string[] {
  const lines: string[] = []
  const fields = Object.entries(params.properties)
  if (fields.length === 0) {
    lines.push('Params: none (send `{}` or omit `params`).', '')
  } else {
    lines.push('| Param | Type | Required | Description |', '| --- | --- | --- | --- |')
    for (const [name, schema] of fields) {
      lines.push(`| \`${name}\` | ${cell(phrase(schema))} | ${isRequired(params, name) ? 'yes' : 'no'} | ${cell(descriptionOf(schema) ?? '')} |`)
    }
    lines.push('')
    // The type phrase flattens nested structures; spell them out as JSON Schema.
    if (fields.some(([, schema]) => isNested(toJSONSchema(schema)))) {
      lines.push('Params schema:', '', '```json', JSON.stringify(toJSONSchema(params), null, 2), '```', '')
    }
  }
  return lines
}

/** Objects, arrays and alternatives: what the one-line type phrase flattens. */
function isNested (json: JsonSchema): boolean {
  return json.type === 'object' || json.type === 'array' || 'anyOf' in json
}

function descriptionOf (schema: Schema): string | undefined {
  const d = (schema as { description?: unknown }).description
  return typeof d === 'string' ? d : undefined
}

/** The docs' type phrase: the same one a -32602 error's `expected` uses. */
function phrase (schema: Schema): string {
  return expectedOf(schema as unknown as JsonSchema)
}

function errorsOf (def: { errors?: readonly MethodErrorDoc[] | undefined }): MethodErrorDoc[] {
  const own = def.errors ?? []
  return [...own, ...COMMON_ERRORS.filter(c => !own.some(e => e.code === c.code))].map(e => ({ code: e.code, message: e.message }))
}

function sorted<Ctx> (methods: MethodTable<Ctx>): Array<MethodDef<Ctx, string, any, any>> {
  return listMethods(methods).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
}

function sortedSubs<Ctx> (table: SubscriptionTable<Ctx> | undefined): Array<SubscriptionDef<Ctx, string, any, any>> {
  return listSubscriptions(table).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
}

/** Markdown table cells cannot hold raw pipes or newlines. */
function cell (text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')
}
