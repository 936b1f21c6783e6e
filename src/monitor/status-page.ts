/**
 * The live status page: plain HTML, and a script that polls /status each second and fills the page in.
 * Every name and text shown comes from the network, so the script only ever sets textContent (never
 * HTML), and the page's Content-Security-Policy allows no inline script at all.
 */
export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>udp-relay status</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
  h1 { font-size: 1.3em; margin: 0 0 .2em; }
  h2 { font-size: 1.05em; margin: 1.4em 0 .4em; }
  .sub { color: #666; }
  .cards { display: flex; gap: 1em; flex-wrap: wrap; }
  .card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .6em 1em; min-width: 8em; }
  .card b { display: block; font-size: 1.5em; }
  table { border-collapse: collapse; background: #fff; }
  th, td { border: 1px solid #ddd; padding: .25em .7em; text-align: left; }
  td.n { text-align: right; font-variant-numeric: tabular-nums; }
  .bad { color: #b00; font-weight: bold; }
  .good { color: #070; font-weight: bold; }
  canvas { background: #fff; border: 1px solid #ddd; }
</style>
</head>
<body>
<h1>udp-relay <span id="version" class="sub"></span></h1>
<div class="sub">serving <span id="address"></span> · store <span id="store"></span> · up <span id="uptime"></span> · <span id="ready"></span></div>
<div class="cards">
  <div class="card">writers<b id="writers">–</b></div>
  <div class="card">readers<b id="readers">–</b></div>
  <div class="card">lines/s<b id="rate">–</b></div>
  <div class="card">lines/s, last minute<b id="rate-minute">–</b></div>
  <div class="card">log<b id="log-messages">–</b><span id="log-extent" class="sub"></span></div>
</div>
<h2>Lines stored per second, last five minutes</h2>
<canvas id="plot" width="600" height="120" aria-label="lines per second"></canvas>
<h2>Writers</h2>
<table id="writer-table"><thead><tr><th>name</th><th>stored this session</th><th>lines/s</th><th>topic</th></tr></thead><tbody></tbody></table>
<h2>Readers, furthest behind first</h2>
<table id="reader-table"><thead><tr><th>name</th><th>group</th><th>position</th><th>lag</th><th>topic</th></tr></thead><tbody></tbody></table>
<h2>Queue groups</h2>
<table id="group-table"><thead><tr><th>group</th><th>members</th><th>position</th><th>lag</th><th>topic</th></tr></thead><tbody></tbody></table>
<h2>Recent errors</h2>
<table id="error-table"><thead><tr><th>when</th><th>what</th></tr></thead><tbody></tbody></table>
<p class="sub">Updated every second from <a href="status">/status</a>; Prometheus metrics at <a href="metrics">/metrics</a>.
<span id="stale"></span></p>
<script src="status.js"></script>
</body>
</html>
`;

export const STATUS_SCRIPT = `'use strict';
const $ = (id) => document.getElementById(id);
const text = (id, value) => { $(id).textContent = String(value); };
const number = (n) => Number(n).toLocaleString('en');
const bytes = (n) => n < 1024 ? n + ' B' : n < 1048576 ? (n / 1024).toFixed(1) + ' KiB' : (n / 1048576).toFixed(1) + ' MiB';
const duration = (s) => s < 120 ? s + ' s' : s < 7200 ? Math.floor(s / 60) + ' min' : Math.floor(s / 3600) + ' h';

function fill(tableId, rows, cells) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren(...rows.map((row) => {
    const tr = document.createElement('tr');
    for (const [value, numeric] of cells(row)) {
      const td = document.createElement('td');
      td.textContent = String(value);
      if (numeric) td.className = 'n';
      tr.append(td);
    }
    return tr;
  }));
}

function plot(series) {
  const c = $('plot');
  const g = c.getContext('2d');
  g.clearRect(0, 0, c.width, c.height);
  const max = Math.max(1, ...series);
  g.strokeStyle = '#36c';
  g.beginPath();
  series.forEach((v, i) => {
    const x = c.width - (series.length - 1 - i) * (c.width / 300);
    const y = c.height - 4 - (v / max) * (c.height - 16);
    if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
  });
  g.stroke();
  g.fillStyle = '#666';
  g.fillText('max ' + number(Math.round(max)), 4, 12);
}

function show(s) {
  text('version', s.version);
  text('address', s.address || '(starting)');
  text('store', s.store.kind);
  text('uptime', duration(s.uptimeSeconds));
  const ready = $('ready');
  ready.textContent = s.store.ready ? 'ready' : 'not ready: ' + s.store.reason;
  ready.className = s.store.ready ? 'good' : 'bad';
  text('writers', number(s.sessions.writers));
  text('readers', number(s.sessions.readers));
  text('rate', number(Math.round(s.rates.linesPerSecond)));
  text('rate-minute', number(Math.round(s.rates.linesPerSecondMinute)));
  text('log-messages', s.log ? number(s.log.messages) : '–');
  text('log-extent', s.log ? 'ids ' + s.log.first + '–' + (s.log.next - 1) + ', ' + bytes(s.log.bytes) : '');
  plot(s.history);
  fill('writer-table', s.writers, (w) => [[w.name], [number(w.stored), true], [number(Math.round(w.linesPerSecond)), true], [w.topic || 'main']]);
  fill('reader-table', s.readers, (r) => [[r.name], [r.group || ''], [r.position, true], [number(r.lag), true], [r.topic || 'main']]);
  fill('group-table', s.groups, (g) => [[g.name], [g.members, true], [g.position, true], [number(g.lag), true], [g.topic || 'main']]);
  fill('error-table', s.recentErrors.slice().reverse(), (e) => [[e.at], [e.text]]);
}

async function update() {
  try {
    const r = await fetch('status', { cache: 'no-store' });
    show(await r.json());
    text('stale', '');
  } catch (e) {
    text('stale', 'The server does not answer: showing what it said last.');
  }
  setTimeout(update, 1000);
}
update();
`;
