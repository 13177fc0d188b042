/* global document, EventSource */
// The iotless dashboard: one EventSource on /api/events, one `status` picture per interval.
// Every topic, payload and label is put on the page as text (textContent, attributes set one by one):
// nothing the devices send is ever parsed as markup.
'use strict'
;(function () {
  const SVG = 'http://www.w3.org/2000/svg'
  const HISTORY = 60
  const routeHistory = new Map()
  const prefetchHistory = new Map()

  function el (tag, text, cls) {
    const e = document.createElement(tag)
    if (text !== undefined && text !== null) e.textContent = String(text)
    if (cls) e.className = cls
    return e
  }
  function cell (text, num) { return el('td', text, num ? 'num' : undefined) }
  function fmtS (s) {
    if (s === undefined || s === null) return '-'
    if (s < 0.001) return (s * 1e6).toFixed(0) + ' µs'
    if (s < 1) return (s * 1000).toFixed(1) + ' ms'
    return s.toFixed(2) + ' s'
  }
  function fmtRate (r) { return r >= 10 ? r.toFixed(0) : r.toFixed(2) }
  function push (map, key, value) {
    const list = map.get(key) || []
    list.push(value)
    if (list.length > HISTORY) list.shift()
    map.set(key, list)
    return list
  }
  function fill (tbody, rows) {
    tbody.replaceChildren(...rows)
  }

  /** A sparkline: `line` as a polyline, `bars` (optional) as bars, on one scale. */
  function spark (line, bars) {
    const w = 160; const h = 24
    const svg = document.createElementNS(SVG, 'svg')
    svg.setAttribute('class', 'spark')
    svg.setAttribute('width', String(w))
    svg.setAttribute('height', String(h))
    const all = line.concat(bars || [])
    const max = Math.max(1e-9, ...all)
    const step = w / Math.max(1, HISTORY - 1)
    if (bars) {
      bars.forEach(function (v, i) {
        const r = document.createElementNS(SVG, 'rect')
        const bh = (v / max) * (h - 2)
        r.setAttribute('x', String(i * step))
        r.setAttribute('y', String(h - bh))
        r.setAttribute('width', String(Math.max(1, step - 1)))
        r.setAttribute('height', String(bh))
        svg.appendChild(r)
      })
    }
    const pl = document.createElementNS(SVG, 'polyline')
    pl.setAttribute('points', line.map(function (v, i) { return (i * step).toFixed(1) + ',' + (h - 1 - (v / max) * (h - 2)).toFixed(1) }).join(' '))
    svg.appendChild(pl)
    return svg
  }

  function renderRoutes (s) {
    fill(document.querySelector('#routes tbody'), s.routes.map(function (r) {
      const hist = push(routeHistory, r.route, r.ratePerS)
      const tr = el('tr')
      tr.dataset.route = r.route
      const spk = el('td')
      spk.appendChild(spark(hist))
      tr.append(cell(r.route), cell(r.target ? r.target + ' : ' + r.function : ''), cell(fmtRate(r.ratePerS), true), spk,
        cell(r.received, true), cell(r.replies, true), cell(r.deadLetters, true), cell(r.retries, true))
      return tr
    }))
    const rejected = Object.entries(s.rejected).filter(function (e) { return e[1] > 0 }).map(function (e) { return e[0] + ' ' + e[1] })
    document.getElementById('unrouted').textContent = 'unrouted: ' + s.unrouted + (rejected.length ? '; refused: ' + rejected.join(', ') : '')
  }

  function renderFunctions (s) {
    fill(document.querySelector('#functions tbody'), s.functions.map(function (f) {
      const tr = el('tr')
      const inv = Object.entries(f.invocations).map(function (e) { return e[0] + ' ' + e[1] }).join(', ') || '0'
      const opt = function (v) { return v === undefined || v === null ? '-' : v }
      tr.append(cell(f.name), cell(f.warm, true), cell(opt(f.starting), true), cell(opt(f.busy), true), cell(opt(f.queued), true), cell(f.coldStarts, true),
        cell(inv), cell(fmtS(f.latency.p50), true), cell(fmtS(f.latency.p95), true), cell(fmtS(f.latency.p99), true), cell(fmtS(f.coldStartSeconds.p50), true))
      return tr
    }))
  }

  function renderDead (s) {
    fill(document.querySelector('#dead tbody'), s.deadLetters.map(function (d) {
      const tr = el('tr')
      tr.append(cell(d.route), cell(d.code), cell(d.count, true))
      return tr
    }))
    document.getElementById('dead-none').hidden = s.deadLetters.length > 0
  }

  function renderPrefetch (s) {
    const list = s.prefetch || []
    fill(document.querySelector('#prefetch tbody'), list.map(function (p) {
      const hist = push(prefetchHistory, p.function, [p.wanted, p.arrivalsPerMinute])
      const tr = el('tr')
      const spk = el('td')
      spk.appendChild(spark(hist.map(function (x) { return x[0] }), hist.map(function (x) { return x[1] })))
      tr.append(cell(p.function), cell(p.wanted, true), cell(new Date(p.decidedAtMs).toLocaleTimeString()), cell(p.arrivalsPerMinute.toFixed(1), true), spk)
      return tr
    }))
    const none = document.getElementById('prefetch-none')
    none.hidden = list.length > 0
    none.textContent = s.prefetch === undefined || s.prefetch === null ? 'prefetch is off' : 'no decision yet (the first comes at the next minute)'
  }

  function renderPlacement (s) {
    fill(document.querySelector('#placement tbody'), s.placement.map(function (p) {
      const tr = el('tr')
      tr.append(cell(p.target), cell(p.function), cell(p.invocations, true))
      return tr
    }))
    // Multi-tier routes: each tier's share of the decisions as a bar, the reasons, predicted against measured.
    const tiers = s.tiers || []
    fill(document.querySelector('#tiers tbody'), tiers.map(function (x) {
      const tr = el('tr')
      tr.dataset.route = x.route
      tr.dataset.tier = x.tier
      const share = el('td', undefined, 'share')
      const track = el('div', undefined, 'share-track')
      const bar = el('div', undefined, 'share-bar')
      bar.style.width = (100 * x.share).toFixed(1) + '%'
      track.appendChild(bar)
      share.append(track, el('span', (100 * x.share).toFixed(0) + '% (' + x.total + ')', 'num'))
      const reasons = Object.entries(x.decisions).map(function (e) { return e[0] + ' ' + e[1] }).join(', ')
      tr.append(cell(x.route), cell(x.tier), share, cell(reasons), cell(fmtS(x.predicted.p50), true), cell(fmtS(x.measured.p50), true))
      return tr
    }))
    document.getElementById('tiers-none').hidden = tiers.length > 0
  }

  function renderTraces (s) {
    const ol = document.getElementById('traces')
    ol.replaceChildren(...s.traces.map(function (t) {
      const li = el('li', undefined, 'trace')
      li.dataset.traceId = t.traceId
      const head = el('div', undefined, 'trace-head')
      head.append(el('span', t.topic, 'topic'), el('span', t.outcome, 'outcome-' + t.outcome), el('span', fmtS((t.endMs - t.startMs) / 1000)),
        el('span', new Date(t.startMs).toLocaleTimeString()), el('span', 'trace ' + t.traceId.slice(0, 8)))
      li.appendChild(head)
      li.appendChild(el('div', t.payloadPreview + (t.payloadBytes > t.payloadPreview.length ? ' …' : ''), 'payload'))
      const total = Math.max(0.001, t.endMs - t.startMs)
      t.spans.forEach(function (sp, i) {
        const row = el('div', undefined, 'span' + (i === 0 ? ' root' : '') + (sp.error ? ' error' : ''))
        const track = el('div', undefined, 'track')
        const bar = el('div', undefined, 'bar')
        bar.style.left = (100 * (sp.startMs - t.startMs) / total).toFixed(2) + '%'
        bar.style.width = (100 * (sp.endMs - sp.startMs) / total).toFixed(2) + '%'
        bar.title = Object.entries(sp.attributes).map(function (e) { return e[0] + '=' + e[1] }).join('\n') + (sp.error ? '\nerror: ' + sp.error : '')
        track.appendChild(bar)
        row.append(el('span', sp.name, 'name'), track, el('span', fmtS((sp.endMs - sp.startMs) / 1000)))
        li.appendChild(row)
      })
      return li
    }))
    document.getElementById('traces-none').hidden = s.traces.length > 0
  }

  function render (s) {
    renderRoutes(s)
    renderFunctions(s)
    renderDead(s)
    renderPrefetch(s)
    renderPlacement(s)
    renderTraces(s)
    document.getElementById('updated').textContent = 'updated ' + new Date(s.atMs).toLocaleTimeString()
    document.body.dataset.updates = String(Number(document.body.dataset.updates || '0') + 1)
  }

  function connect () {
    const conn = document.getElementById('conn')
    const es = new EventSource('api/events')
    es.addEventListener('open', function () { conn.textContent = 'live'; conn.className = 'conn up' })
    es.addEventListener('error', function () { conn.textContent = 'reconnecting'; conn.className = 'conn down' })
    es.addEventListener('status', function (ev) { render(JSON.parse(ev.data)) })
  }
  connect()
})()
