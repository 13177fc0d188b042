// The live dashboard in a real browser (Debian's chromium, driven by playwright-core): messages published
// over MQTT show up on the page, topics and payloads as text, never as markup.
import t from 'tap'
import { existsSync } from 'node:fs'
import { chromium } from 'playwright-core'
import { collector, publisher } from '../helpers/mqttCollector.js'
import { stackConfig, startTestStack } from '../e2e/stackSuite.js'
import { ulbLines } from '../helpers/ulbReadings.js'

const CHROMIUM = '/usr/bin/chromium'

t.test('the page shows published messages, live, and escapes what devices send', async (t) => {
  t.ok(existsSync(CHROMIUM), `${CHROMIUM} is installed (.ci/run installs the chromium package)`)
  const prefix = `dash-${process.pid}-${Date.now().toString(36)}`
  const config = stackConfig(prefix, '', { metrics: { port: 0, dashboardIntervalMs: 200 } })
  const { stack } = await startTestStack(t, config)
  const base = `http://127.0.0.1:${stack.metricsPort ?? 0}`

  const page0 = await fetch(`${base}/`)
  t.equal(page0.status, 200)
  t.match(page0.headers.get('content-security-policy'), /script-src 'self'/, 'the page runs only its own script')
  const status0 = await (await fetch(`${base}/api/status`)).json() as { routes: Array<{ route: string }> }
  t.same(status0.routes.map((r) => r.route), ['routes[0]', 'routes[1]'], '/api/status lists the configured routes')

  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] })
  t.teardown(() => browser.close())
  // bypassCSP: the page's own CSP would stop an injected script anyway; without it, the test shows that
  // nothing a device sends becomes markup in the first place.
  const page = await browser.newPage({ viewport: { width: 1700, height: 1100 }, bypassCSP: true })
  const dialogs: string[] = []
  page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss() })
  await page.goto(`${base}/`)
  await page.waitForSelector('#conn.up', { timeout: 10_000 })

  const sub = await collector(stack.brokerUrl, `${prefix}/echo-replies`)
  t.teardown(sub.close)
  const pub = await publisher(stack.brokerUrl)
  t.teardown(() => pub.endAsync(true))
  const evilTopic = `${prefix}/echo/<img src=x onerror="window.__pwned=1">`
  const evilPayload = '<script>window.__pwned=2</script><b>bold</b><img src=x onerror="alert(1)">'
  await pub.publishAsync(evilTopic, evilPayload, { qos: 1 })
  for (let k = 0; k < 5; k++) await pub.publishAsync(`${prefix}/echo/n${k}`, JSON.stringify({ n: k }), { qos: 1 })
  // Too large for adapter.maxPayloadBytes (1024 here): dead-lettered before any invocation.
  for (let k = 0; k < 2; k++) await pub.publishAsync(`${prefix}/echo/big`, Buffer.alloc(2000, 0x41), { qos: 1 })

  // The routes table counts them, live (no reload).
  // In-page code is passed as text: the tests compile without the DOM's types.
  await page.waitForFunction(`document.querySelector('#routes tr[data-route="routes[1]"]')?.children[4]?.textContent === '8'`, undefined, { timeout: 15_000 })
  t.pass('routes[1] shows 8 received messages without a reload')
  // The last messages list has the evil one, as text.
  await page.waitForFunction(`document.querySelectorAll('#traces .topic').length >= 8`, undefined, { timeout: 15_000 })
  const topics = await page.$$eval('#traces .topic', (els) => els.map((e) => e.textContent))
  t.ok(topics.includes(evilTopic), 'the trace list shows the topic verbatim, as text')
  t.ok(topics.includes(`${prefix}/echo/n4`), 'and the others')
  const payloads = await page.$$eval('#traces .payload', (els) => els.map((e) => e.textContent))
  t.ok(payloads.includes(evilPayload), 'the payload is shown verbatim, as text')
  t.equal(await page.$$eval('#traces img, #traces script, #traces b', (els) => els.length), 0, 'no element came from a topic or payload')
  t.equal(await page.evaluate('typeof window.__pwned'), 'undefined', 'no script of theirs ran')
  t.same(dialogs, [], 'no alert ran')
  // Spans of a handled message, under it: receive, route match, dispatch, reply publish.
  const spanNames = await page.$eval('#traces li.trace', (li) => [...li.querySelectorAll('.span .name')].map((e) => e.textContent))
  t.same(spanNames.slice(0, 1), ['mqtt receive'])
  t.ok(spanNames.includes('dispatch'), `the waterfall has the dispatch (${spanNames.join(', ')})`)
  // The function's instances and the dead letters of the bad readings.
  await page.waitForFunction(`[...document.querySelectorAll('#dead td')].some((e) => e.textContent === 'PAYLOAD_TOO_LARGE')`, undefined, { timeout: 15_000 })
  const dead = await page.$$eval('#dead tbody tr', (rows) => rows.map((r) => [...r.children].map((c) => c.textContent)))
  t.same(dead, [['routes[1]', 'PAYLOAD_TOO_LARGE', '2']], 'the dead letters by route and code')
  const bigTrace = await page.$$eval('#traces li.trace', (lis) => lis.map((li) => [...li.querySelectorAll('.span .name')].map((e) => e.textContent)).find((n) => n.includes('dead letter')))
  t.ok(bigTrace, 'a dead-lettered message has its dead letter span')
  const echoRow = await page.$$eval('#functions tbody tr', (rows) => rows.map((r) => [...r.children].map((c) => c.textContent)).find((c) => c[0] === 'echo'))
  t.ok(Number(echoRow?.[1]) >= 1, `echo has a warm instance (${String(echoRow)})`)
  t.ok(Number(echoRow?.[5]) >= 1, 'and a cold start')

  // A few real sensor readings on the other route, so the screenshot shows both.
  for (const line of ulbLines().slice(0, 12)) await pub.publishAsync(`${prefix}/sensors/${line.split(/\s+/)[1] ?? '0'}/reading`, line + '\r\n', { qos: 1 })
  await page.waitForFunction(`document.querySelector('#routes tr[data-route="routes[0]"]')?.children[4]?.textContent === '12'`, undefined, { timeout: 15_000 })
  await page.waitForFunction(`[...document.querySelectorAll('#functions tbody tr')].some((r) => r.children[0]?.textContent === 'temperature-alert' && /ok 12/.test(r.children[6]?.textContent ?? ''))`, undefined, { timeout: 30_000 })
  t.pass('the readings\' invocations show up on the functions panel')
  await waitReplies(sub.received, 6)
  const shot = process.env.IOTLESS_DASHBOARD_SCREENSHOT
  if (shot !== undefined && shot !== '') await page.screenshot({ path: shot, fullPage: true })
})

async function waitReplies (list: unknown[], n: number): Promise<void> {
  // A bound on a failing run's time only; a loaded machine can take tens of seconds for a cold start and retries.
  const deadline = Date.now() + 30_000
  while (list.length < n && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
}

t.test('the placement panel draws each tier of a multi-tier route: its share and why', async (t) => {
  const prefix = `dash-tiers-${process.pid}-${Date.now().toString(36)}`
  const base0 = stackConfig(prefix, '', {})
  // Two tiers: the local pool, and a Knative URL where nothing listens (every try there fails over to local).
  const config = stackConfig(prefix, '', {
    metrics: { port: 0, dashboardIntervalMs: 200 },
    targets: { far: { kind: 'knative', url: 'http://127.0.0.1:9/' } },
    routes: [{ topic: `${prefix}/tiered/#`, function: 'echo', targets: ['far', 'local'], reply: `${prefix}/tiered-replies` }],
    functions: { echo: base0.functions.echo }
  })
  const { stack } = await startTestStack(t, config)
  const base = `http://127.0.0.1:${stack.metricsPort ?? 0}`
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] })
  t.teardown(() => browser.close())
  // bypassCSP: only so waitForFunction can evaluate its text (the page's CSP forbids eval).
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 }, bypassCSP: true })
  await page.goto(`${base}/`)
  await page.waitForSelector('#conn.up', { timeout: 10_000 })
  t.equal(await page.$eval('#tiers-none', (e) => (e as unknown as { hidden: boolean }).hidden), false, 'before any message: the note says none yet')
  const sub = await collector(stack.brokerUrl, `${prefix}/tiered-replies`)
  t.teardown(sub.close)
  const pub = await publisher(stack.brokerUrl)
  t.teardown(() => pub.endAsync(true))
  for (let k = 0; k < 6; k++) await pub.publishAsync(`${prefix}/tiered/n${k}`, JSON.stringify({ n: k }), { qos: 1 })
  await waitReplies(sub.received, 6)
  t.equal(sub.received.length, 6, 'every message answered, by the tier that works')
  await page.waitForFunction(`document.querySelectorAll('#tiers tbody tr[data-route="routes[0]"]').length === 2 && /failover/.test(document.querySelector('#tiers tr[data-tier="local"]')?.textContent ?? '')`, undefined, { timeout: 15_000 })
  const rows = await page.$$eval('#tiers tbody tr', (rs) => rs.map((r) => [...r.children].map((c) => c.textContent ?? '')))
  const local = rows.find((r) => r[1] === 'local')
  const far = rows.find((r) => r[1] === 'far')
  t.ok(local !== undefined && far !== undefined, `a row per tier (${JSON.stringify(rows)})`)
  t.match(local?.[3], /failover \d+/, 'local took the messages far could not')
  t.match(far?.[5], /^-$/, 'far has no measured latency: none of its runs succeeded')
  t.match(local?.[5], /\d+(\.\d+)? (µs|ms|s)$/, 'local has a measured p50')
  const status = await (await fetch(`${base}/api/status`)).json() as { tiers: Array<{ tier: string; total: number; share: number }> }
  const sum = status.tiers.reduce((a, x) => a + x.share, 0)
  t.ok(Math.abs(sum - 1) < 1e-9, `the route's shares add up to 1 (${sum})`)
  t.equal(await page.$eval('#tiers-none', (e) => (e as unknown as { hidden: boolean }).hidden), true, 'the note is gone')
})
