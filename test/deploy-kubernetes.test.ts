/**
 * deploy/kubernetes: every manifest validates against the Kubernetes schemas (the kubernetes-models package,
 * Kubernetes 1.27), the Kustomize base renders (kubectl kustomize, offline) and its output validates too, and the
 * pieces fit together: the headless Service the StatefulSet names, node 0's DNS name as bootstrap, the swarm key
 * from the Secret, probes on the entrypoint, a PodDisruptionBudget over the same pods, resource requests at least
 * the measured idle cost in docs/benchmarks.md.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'
import { Secret, Service } from 'kubernetes-models/v1'
import { StatefulSet } from 'kubernetes-models/apps/v1'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1'
import { generateSwarmKey } from '@shoal/node'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const DIR = join(ROOT, 'deploy/kubernetes')

/**
 * One daemon's measured idle cost, from docs/benchmarks.md's "Scale" table (the 10-daemon row, which
 * `scripts/dev bench scale` regenerates): RSS median in MB and idle CPU median in % of a core. The requests must
 * cover both, so a re-measured, larger daemon fails this test until the manifest follows.
 */
async function measuredIdleCost (): Promise<{ rssMiB: number, cpuMillicores: number }> {
  const bench = await readFile(join(ROOT, 'docs/benchmarks.md'), 'utf8')
  const scale = bench.slice(bench.indexOf('## Scale'))
  const row = /^\| 10 \| [^|]+\| [^|]+\| ([\d.]+)% \/ [\d.]+% \| (\d+) \/ \d+ MB \|/m.exec(scale)
  assert.ok(row !== null, "docs/benchmarks.md's Scale table has the 10-daemon row")
  return { rssMiB: Number(row[2]) * 1e6 / 2 ** 20, cpuMillicores: Number(row[1]) * 10 }
}

type Obj = Record<string, any>
const MODELS: Record<string, new (o: any) => { validate: () => void }> = {
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/StatefulSet': StatefulSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget
}

function validate (doc: Obj): void {
  const Model = MODELS[`${String(doc.apiVersion)}/${String(doc.kind)}`]
  if (Model === undefined) throw new Error(`no schema for ${String(doc.apiVersion)} ${String(doc.kind)}`)
  new Model(doc).validate()
}

async function manifests (): Promise<Obj[]> {
  const docs: Obj[] = []
  for (const f of (await readdir(DIR)).filter(f => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort()) {
    for (const d of parseAllDocuments(await readFile(join(DIR, f), 'utf8'))) docs.push(d.toJS() as Obj)
  }
  return docs
}

const byKind = (docs: Obj[], kind: string): Obj => {
  const found = docs.filter(d => d.kind === kind)
  assert.is(found.length, 1, `one ${kind}`)
  return found[0] as Obj
}

test('every manifest validates against the Kubernetes schemas; a broken one does not', async () => {
  const docs = await manifests()
  assert.equal(docs.map(d => d.kind).sort(), ['PodDisruptionBudget', 'Service', 'StatefulSet'])
  for (const d of docs) validate(d)
  const broken = structuredClone(byKind(docs, 'StatefulSet'))
  broken.spec.replicas = 'five'
  assert.throws(() => { validate(broken) }, 'the validator rejects a bad field')
  const missing = structuredClone(byKind(docs, 'StatefulSet'))
  delete missing.spec.selector
  assert.throws(() => { validate(missing) }, 'the validator rejects a missing required field')
})

test('the pieces fit: headless Service, node 0 as bootstrap, Secret swarm key, probes, PDB, requests', async () => {
  const docs = await manifests()
  const sts = byKind(docs, 'StatefulSet')
  const svc = byKind(docs, 'Service')
  const pdb = byKind(docs, 'PodDisruptionBudget')
  const labels = sts.spec.template.metadata.labels
  const matches = (sel: Record<string, string>): boolean => Object.entries(sel).every(([k, v]) => labels[k] === v)

  assert.is(sts.spec.serviceName, svc.metadata.name, 'the StatefulSet names the headless Service')
  assert.is(svc.spec.clusterIP, 'None', 'headless')
  assert.is(svc.spec.publishNotReadyAddresses, true, "node 0's name resolves before it is ready")
  assert.ok(matches(svc.spec.selector) && matches(sts.spec.selector.matchLabels) && matches(pdb.spec.selector.matchLabels), 'selectors pick the pods')
  assert.is(sts.spec.podManagementPolicy, 'Parallel', 'readiness needs peers: ordered start would deadlock')

  const pod = sts.spec.template.spec
  const c = pod.containers[0]
  const env = Object.fromEntries(c.env.map((e: Obj) => [e.name, e.value]))
  const p2p = c.ports.find((p: Obj) => p.name === 'p2p').containerPort
  assert.is(env.SHOAL_BOOTSTRAP, `/dns4/${String(sts.metadata.name)}-0.${String(svc.metadata.name)}/tcp/${String(p2p)}`, "node 0's DNS name")
  assert.is(svc.spec.ports[0].port, p2p)
  assert.is(pod.enableServiceLinks, false, 'no injected SHOAL_* variables')

  const keyMount = c.volumeMounts.find((m: Obj) => env.SHOAL_SWARM_KEY.startsWith(`${String(m.mountPath)}/`))
  assert.ok(keyMount !== undefined, 'the swarm key path is inside a mount')
  const keyVolume = pod.volumes.find((v: Obj) => v.name === keyMount.name)
  assert.is(keyVolume.secret.secretName, 'shoal-swarm-key', 'from the Secret')
  assert.is(`${String(keyMount.mountPath)}/${String(keyVolume.secret.items[0].path)}`, env.SHOAL_SWARM_KEY)
  const kustomization = (parseAllDocuments(await readFile(join(DIR, 'kustomization.yaml'), 'utf8'))[0]?.toJS() ?? {}) as Obj
  const generator = kustomization.secretGenerator.find((g: Obj) => g.name === keyVolume.secret.secretName)
  assert.ok(generator?.files.includes(keyVolume.secret.items[0].key), 'Kustomize makes that Secret key')
  assert.is(kustomization.generatorOptions.disableNameSuffixHash, true, 'under the name the StatefulSet uses')

  const data = c.volumeMounts.find((m: Obj) => m.mountPath === '/var/lib/shoal')
  assert.is(data?.name, sts.spec.volumeClaimTemplates[0].metadata.name, 'the data dir is on the volume claim')
  assert.equal(c.livenessProbe.exec.command, ['/opt/shoal/deploy/docker/entrypoint.sh', 'health'])
  assert.equal(c.readinessProbe.exec.command, ['/opt/shoal/deploy/docker/entrypoint.sh', 'ready'])
  assert.ok(pod.terminationGracePeriodSeconds > 4.5, 'longer than the daemon shutdown deadline')
  assert.is(pod.securityContext.runAsNonRoot, true)
  assert.is(c.securityContext.allowPrivilegeEscalation, false)

  assert.is(pdb.spec.maxUnavailable, 1)
  assert.ok(sts.spec.replicas >= 3, 'a budget of one leaves a quorum')
  const mib = (q: string): number => { const m = /^(\d+)(Mi|Gi)$/.exec(q); if (m === null) throw new Error(q); return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1) }
  const measured = await measuredIdleCost()
  assert.ok(mib(c.resources.requests.memory) >= measured.rssMiB, `memory request ${c.resources.requests.memory} covers the measured idle RSS (${measured.rssMiB.toFixed(0)} MiB)`)
  assert.ok(mib(c.resources.limits.memory) > mib(c.resources.requests.memory))
  const cpu = /^(\d+)m$/.exec(c.resources.requests.cpu)
  assert.ok(cpu !== null, `cpu request in millicores: ${c.resources.requests.cpu}`)
  assert.ok(Number(cpu[1]) >= measured.cpuMillicores, `cpu request ${c.resources.requests.cpu} covers the measured idle CPU (${measured.cpuMillicores.toFixed(1)}m)`)
})

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0
if (!kubectl) console.log('deploy-kubernetes: skipping the Kustomize render: kubectl is not installed')
;(kubectl ? test : test.skip)('the Kustomize base renders (kubectl kustomize, offline) and what it renders validates', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-k8s-'))
  try {
    await cp(DIR, dir, { recursive: true })
    const key = generateSwarmKey()
    await writeFile(join(dir, 'swarm.key'), key)
    const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 })
    assert.is(r.status, 0, r.stderr)
    const docs = parseAllDocuments(r.stdout).map(d => d.toJS() as Obj)
    assert.equal(docs.map(d => d.kind).sort(), ['PodDisruptionBudget', 'Secret', 'Service', 'StatefulSet'])
    const secret = byKind(docs, 'Secret')
    // Kustomize folds long base64 over lines (the API server's decoder skips them; the schema's "byte" does not).
    for (const k of Object.keys(secret.data)) secret.data[k] = String(secret.data[k]).replace(/\s+/g, '')
    for (const d of docs) validate(d)
    assert.is(secret.metadata.name, 'shoal-swarm-key')
    assert.is(Buffer.from(secret.data['swarm.key'], 'base64').toString(), typeof key === 'string' ? key : Buffer.from(key).toString())
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test.run()
