// Shoal dashboard: login, the WebSocket to this node, and a poll of swarm.overview every second.
// Plain ES module, no dependencies. The token lives in sessionStorage (this tab only) and travels only
// as the WebSocket subprotocol `bearer.<token>` and in one Authorization header when logging in.
import { History } from './history.js'
import { render } from './render.js'

const TOKEN_KEY = 'shoal.rpc.token'
const POLL_MS = 1000
const RECONNECT_MS = 2000
const $ = id => document.getElementById(id)

let ws
let nextId = 1
const pending = new Map()
let pollTimer
let reconnectTimer
let history = new History()

/** Asks the node whether it takes this token: a clear 'wrong token' instead of a bare failed WebSocket. */
async function checkToken (token) {
  if (!/^[\x21-\x7e]+$/.test(token)) return 'That is not a token: expected the hex string from rpc.token.'
  let res
  try {
    res = await fetch('/rpc', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'node.info', params: {} })
    })
  } catch {
    return 'Could not reach the node.'
  }
  if (res.status === 401) return 'Wrong token: the node refused it.'
  if (!res.ok) return `The node answered HTTP ${res.status}.`
  return undefined
}

function showLogin (error) {
  stop()
  $('app').hidden = true
  $('app').replaceChildren() // nothing of the swarm stays in the page
  $('login').hidden = false
  const err = $('login-error')
  err.hidden = error === undefined
  err.textContent = error ?? ''
  $('token').focus()
}

function showApp () {
  $('login').hidden = true
  $('app').hidden = false
}

function stop () {
  clearTimeout(pollTimer)
  clearTimeout(reconnectTimer)
  if (ws !== undefined) {
    ws.onclose = null
    ws.close()
    ws = undefined
  }
  for (const p of pending.values()) p.reject(new Error('closed'))
  pending.clear()
}

function call (method, params = {}) {
  return new Promise((resolve, reject) => {
    if (ws === undefined || ws.readyState !== WebSocket.OPEN) { reject(new Error('not connected')); return }
    const id = nextId++
    pending.set(id, { resolve, reject })
    ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }))
  })
}

function setLink (state, title) {
  const el = $('link')
  if (el === null) return
  el.className = `link ${state}`
  el.title = title
}

function connect (token) {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
  const socket = new WebSocket(`${scheme}://${location.host}/rpc/ws`, ['shoal-rpc', `bearer.${token}`])
  ws = socket
  socket.onopen = () => { setLink('up', 'connected'); void poll() }
  socket.onmessage = e => {
    let msg
    try { msg = JSON.parse(e.data) } catch { return }
    const p = pending.get(msg.id)
    if (p === undefined) return
    pending.delete(msg.id)
    if (msg.error !== undefined) p.reject(Object.assign(new Error(msg.error.message), { code: msg.error.code }))
    else p.resolve(msg.result)
  }
  socket.onclose = () => {
    if (ws !== socket) return
    ws = undefined
    clearTimeout(pollTimer)
    for (const p of pending.values()) p.reject(new Error('connection closed'))
    pending.clear()
    setLink('down', 'disconnected; reconnecting')
    reconnectTimer = setTimeout(() => { void reconnect(token) }, RECONNECT_MS)
  }
}

async function reconnect (token) {
  const error = await checkToken(token)
  if (error?.startsWith('Wrong token')) {
    sessionStorage.removeItem(TOKEN_KEY)
    showLogin(error)
  } else {
    connect(token)
  }
}

async function poll () {
  clearTimeout(pollTimer)
  const started = Date.now()
  try {
    const overview = await call('swarm.overview')
    history.add(overview)
    render(overview, history, { latencyMs: Date.now() - started })
  } catch (err) {
    const footer = $('footer')
    if (footer !== null) footer.textContent = `last update failed: ${err.message}`
  }
  if (ws !== undefined) pollTimer = setTimeout(() => { void poll() }, POLL_MS)
}

async function start (token) {
  const error = await checkToken(token)
  if (error !== undefined) {
    sessionStorage.removeItem(TOKEN_KEY)
    showLogin(error)
    return
  }
  sessionStorage.setItem(TOKEN_KEY, token)
  $('token').value = ''
  history = new History()
  showApp()
  connect(token)
}

const appTemplate = $('app').cloneNode(true)
$('login-form').addEventListener('submit', e => {
  e.preventDefault()
  const token = $('token').value.trim()
  if (token === '') return
  $('app').replaceWith(appTemplate.cloneNode(true))
  $('logout').addEventListener('click', () => { sessionStorage.removeItem(TOKEN_KEY); showLogin() })
  void start(token)
})

// The template holds no data, only empty panels; it comes back on each login.
$('app').replaceChildren()
const saved = sessionStorage.getItem(TOKEN_KEY)
if (saved !== null) {
  $('token').value = saved
  $('login-form').requestSubmit()
} else {
  $('token').focus()
}
