// The console's page. Plain ES2017 in the browser, no framework: it calls
// the REST API (/v3, /consumers) and /metrics, /health/ready.
#pragma once

namespace strata::rest {

inline constexpr const char* console_page = R"PAGE(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Strata console</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1c2330}
header{background:#1c2330;color:#fff;padding:10px 20px;display:flex;gap:20px;align-items:center}
header h1{font-size:18px;margin:0}
nav button{background:none;border:0;color:#cfd6e4;font-size:15px;cursor:pointer;padding:6px 10px}
nav button.on{color:#fff;border-bottom:2px solid #5aa0ff}
main{padding:20px}
section{display:none}section.on{display:block}
table{border-collapse:collapse;background:#fff;margin:8px 0 16px;min-width:400px}
th,td{border:1px solid #dde2ea;padding:5px 9px;text-align:left;font-size:14px;vertical-align:top}
th{background:#eef1f6}
.card{background:#fff;border:1px solid #dde2ea;padding:12px;margin:8px 0;display:inline-block;min-width:160px;margin-right:8px}
.card b{display:block;font-size:22px}
input,select,button{font-size:14px;padding:4px 6px;margin:2px}
.err{color:#b00020}.ok{color:#137333}
pre{margin:0;white-space:pre-wrap;word-break:break-all;max-width:600px}
a{color:#1a5fd1;cursor:pointer}
canvas{background:#fff;border:1px solid #dde2ea}
</style></head><body>
<header><h1>Strata</h1><nav id="tabs">
<button data-tab="overview" class="on">Overview</button><button data-tab="topics">Topics</button>
<button data-tab="messages">Messages</button><button data-tab="groups">Consumer groups</button>
<button data-tab="throughput">Throughput</button></nav><span id="status"></span></header>
<main>
<section id="overview" class="on"><div id="ov-cards"></div><h3>Brokers</h3><table id="ov-brokers"></table><h3>Health</h3><pre id="ov-health"></pre></section>
<section id="topics"><h3>Create a topic</h3>
<input id="t-name" placeholder="name"> <input id="t-parts" type="number" value="1" style="width:60px" title="partitions">
<input id="t-rf" type="number" value="1" style="width:60px" title="replication factor"> <button id="t-create">Create</button> <span id="t-msg"></span>
<h3>Topics</h3><table id="t-list"></table><div id="t-detail"></div></section>
<section id="messages"><h3>Produce</h3>
<input id="p-topic" placeholder="topic"> <input id="p-key" placeholder="key"> <input id="p-value" placeholder="value" size="40">
<input id="p-hname" placeholder="header name"> <input id="p-hvalue" placeholder="header value"> <button id="p-send">Produce</button> <span id="p-msg"></span>
<h3>Browse</h3>
<input id="m-topic" placeholder="topic"> partition <input id="m-part" type="number" value="0" style="width:60px">
offset <input id="m-offset" type="number" value="0" style="width:90px"> or from time <input id="m-time" placeholder="2026-12-08T10:00:00Z or ms" size="24"> show as <select id="m-fmt"><option>text</option><option>json</option><option>hex</option></select>
filter <input id="m-filter" placeholder="substring"> <button id="m-load">Load</button> <span id="m-msg"></span>
<table id="m-list"></table></section>
<section id="groups"><h3>Consumer groups</h3><table id="g-list"></table><div id="g-detail"></div></section>
<section id="throughput"><h3>Bytes in / out per second (from /metrics)</h3><canvas id="chart" width="800" height="240"></canvas><div id="tp-now"></div></section>
</main>
<script>
'use strict';
let cluster = null;
const $ = id => document.getElementById(id);
const esc = s => String(s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
async function api(method, path, body) {
  const opts = {method, headers: {}};
  if (body !== undefined) { opts.headers['Content-Type'] = 'application/json'; opts.body = JSON.stringify(body); }
  const r = await fetch(path, opts);
  const text = await r.text();
  const data = text ? JSON.parse(text) : null;
  if (!r.ok) throw new Error((data && data.message) || r.statusText);
  return data;
}
function table(el, head, rows) {
  $(el).innerHTML = '<tr>' + head.map(h => '<th>' + esc(h) + '</th>').join('') + '</tr>' +
    rows.map(r => '<tr>' + r.map(c => '<td>' + c + '</td>').join('') + '</tr>').join('');
}
const base = () => '/v3/clusters/' + encodeURIComponent(cluster);
function b64bytes(s) { if (s === null) return null; const b = atob(s); return Uint8Array.from(b, c => c.charCodeAt(0)); }
function show(s, fmt) {
  const bytes = b64bytes(s);
  if (bytes === null) return '<i>null</i>';
  if (fmt === 'hex') return esc(Array.from(bytes, b => b.toString(16).padStart(2, '0')).join(' '));
  const text = new TextDecoder().decode(bytes);
  if (fmt === 'json') { try { return esc(JSON.stringify(JSON.parse(text), null, 2)); } catch (e) { return esc(text) + ' <i>(not JSON)</i>'; } }
  return esc(text);
}
const b64 = s => btoa(String.fromCharCode(...new TextEncoder().encode(s)));

async function overview() {
  const c = (await api('GET', '/v3/clusters')).data[0];
  cluster = c.cluster_id;
  const brokers = (await api('GET', base() + '/brokers')).data;
  const topics = (await api('GET', base() + '/topics')).data;
  const controller = c.controller ? c.controller.related.split('/').pop() : 'none';
  let health = '';
  try { const r = await fetch('/health/ready'); health = await r.text(); $('status').textContent = r.ok ? 'ready' : 'not ready'; } catch (e) { health = String(e); }
  // The metadata quorum as this broker knows it (its /metrics).
  let quorum = '?', metadata = '?';
  try {
    const m = await (await fetch('/metrics')).text();
    const leader = metricSum(m, 'strata_raft_current_leader');
    quorum = (leader >= 0 ? 'leader ' + leader : 'no leader') + ', epoch ' + metricSum(m, 'strata_raft_current_epoch');
    metadata = 'offset ' + metricSum(m, 'strata_metadata_high_watermark') + ', lag ' + metricSum(m, 'strata_metadata_lag_records');
  } catch (e) {}
  $('ov-cards').innerHTML = [['Cluster', cluster], ['Controller', controller], ['Brokers', brokers.length], ['Topics', topics.length],
                             ['Quorum', quorum], ['Metadata', metadata]]
    .map(([k, v]) => '<div class="card">' + esc(k) + '<b id="card-' + k.toLowerCase() + '">' + esc(v) + '</b></div>').join('');
  table('ov-brokers', ['id', 'host', 'port', 'rack'], brokers.map(b => [b.broker_id, esc(b.host), b.port, esc(b.rack || '')]));
  $('ov-health').textContent = health;
}
async function topics() {
  const list = (await api('GET', base() + '/topics')).data;
  // Throughput: this broker's bytes in/out per topic over the last two samples of /metrics.
  const rate = (t, k) => topicRates[t] ? (topicRates[t][k] / 1e3).toFixed(1) : '-';
  table('t-list', ['topic', 'partitions', 'replication', 'size (bytes)', 'in (kB/s)', 'out (kB/s)', ''], list.map(t => [
    '<a data-topic="' + esc(t.topic_name) + '">' + esc(t.topic_name) + '</a>', t.partitions_count, t.replication_factor, t.size_bytes || 0,
    rate(t.topic_name, 'in'), rate(t.topic_name, 'out'),
    t.is_internal ? 'internal' : '<button data-delete="' + esc(t.topic_name) + '">delete</button>']));
}
async function topicDetail(name) {
  const parts = (await api('GET', base() + '/topics/' + encodeURIComponent(name) + '/partitions')).data;
  const configs = (await api('GET', base() + '/topics/' + encodeURIComponent(name) + '/configs')).data;
  $('t-detail').innerHTML = '<h3>' + esc(name) + ': partitions</h3><table id="t-parts"></table><h3>Configs</h3><table id="t-configs"></table>';
  table('t-parts', ['partition', 'leader', 'replicas', 'ISR', 'earliest', 'latest'], parts.map(p => [p.partition_id, p.leader_id, p.replica_ids.join(','), p.isr_ids.join(','), p.earliest_offset, p.latest_offset]));
  table('t-configs', ['name', 'value', 'source'], configs.map(c => [esc(c.name), esc(c.value === null ? '' : c.value), esc(c.source)]));
}
async function produce() {
  const topic = $('p-topic').value;
  const rec = {value: {type: 'STRING', data: $('p-value').value}};
  if ($('p-key').value) rec.key = {type: 'STRING', data: $('p-key').value};
  if ($('p-hname').value) rec.headers = [{name: $('p-hname').value, value: b64($('p-hvalue').value)}];
  try {
    const r = await api('POST', base() + '/topics/' + encodeURIComponent(topic) + '/records', rec);
    $('p-msg').innerHTML = '<span class="ok">produced to partition ' + r.partition_id + ' at offset ' + r.offset + '</span>';
  } catch (e) { $('p-msg').innerHTML = '<span class="err">' + esc(e.message) + '</span>'; }
}
async function browse() {
  const topic = $('m-topic').value, fmt = $('m-fmt').value, filter = $('m-filter').value, time = $('m-time').value.trim();
  try {
    // A time (ISO 8601 or ms since the epoch) reads from its first record on.
    const ms = /^\d+$/.test(time) ? Number(time) : Date.parse(time);
    if (time && isNaN(ms)) throw new Error('not a time: ' + time);
    const from = time ? 'timestamp=' + ms : 'offset=' + $('m-offset').value;
    const r = await api('GET', base() + '/topics/' + encodeURIComponent(topic) + '/partitions/' + $('m-part').value + '/records?' + from + '&max_records=100');
    let rows = r.data;
    if (filter) rows = rows.filter(m => [m.key, m.value].some(v => v !== null && new TextDecoder().decode(b64bytes(v)).includes(filter)));
    table('m-list', ['offset', 'timestamp', 'key', 'value', 'headers'], rows.map(m => [m.offset, esc(new Date(m.timestamp).toISOString()),
      '<pre class="m-key">' + show(m.key, fmt) + '</pre>', '<pre class="m-value">' + show(m.value, fmt) + '</pre>',
      '<pre class="m-headers">' + m.headers.map(h => esc(h.name) + ': ' + show(h.value, 'text')).join('\n') + '</pre>']));
    $('m-msg').textContent = rows.length + ' records, high watermark ' + r.high_watermark;
  } catch (e) { $('m-msg').innerHTML = '<span class="err">' + esc(e.message) + '</span>'; }
}
async function groups() {
  const list = (await api('GET', base() + '/consumer-groups')).data;
  table('g-list', ['group', 'state', 'assignor'], list.map(g => ['<a data-group="' + esc(g.consumer_group_id) + '">' + esc(g.consumer_group_id) + '</a>', esc(g.state), esc(g.partition_assignor)]));
}
async function groupDetail(id) {
  const g = base() + '/consumer-groups/' + encodeURIComponent(id);
  const members = (await api('GET', g + '/consumers')).data;
  const lags = (await api('GET', g + '/lags')).data;
  const summary = await api('GET', g + '/lag-summary');
  $('g-detail').innerHTML = '<h3>' + esc(id) + '</h3><div>total lag <b id="g-total">' + summary.total_lag + '</b>, max lag ' + summary.max_lag + '</div>' +
    '<h4>Members</h4><table id="g-members"></table><h4>Lag per partition</h4><table id="g-lags"></table>' +
    '<h4>Reset offsets</h4>to <select id="r-to"><option value="earliest">earliest</option><option value="latest">latest</option><option value="offset">offset</option></select> ' +
    '<input id="r-offset" type="number" value="0" style="width:90px"> <button id="r-preview">Preview</button> <button id="r-apply" disabled>Apply</button> <span id="r-msg"></span><table id="r-table"></table>';
  table('g-members', ['consumer', 'client', 'host', 'assignments'], members.map(m => [esc(m.consumer_id), esc(m.client_id), esc(m.host), esc(m.assignments.map(a => a.topic_name + '-' + a.partition_id).join(', '))]));
  table('g-lags', ['topic', 'partition', 'current', 'log end', 'lag', 'consumer'], lags.map(l => [esc(l.topic_name), l.partition_id, l.current_offset, l.log_end_offset, '<span class="lag">' + l.lag + '</span>', esc(l.consumer_id)]));
  let plan = [];
  $('r-preview').onclick = async () => {
    plan = [];
    for (const l of lags) {
      const p = await api('GET', base() + '/topics/' + encodeURIComponent(l.topic_name) + '/partitions/' + l.partition_id);
      const to = $('r-to').value;
      const target = to === 'earliest' ? p.earliest_offset : to === 'latest' ? p.latest_offset : Math.min(Math.max(Number($('r-offset').value), p.earliest_offset), p.latest_offset);
      plan.push({topic: l.topic_name, partition: l.partition_id, from: l.current_offset, offset: target, end: p.latest_offset});
    }
    table('r-table', ['topic', 'partition', 'current', 'new offset', 'new lag'], plan.map(x => [esc(x.topic), x.partition, x.from, x.offset, x.end - x.offset]));
    $('r-apply').disabled = members.length > 0 || plan.length === 0;
    $('r-msg').textContent = members.length > 0 ? 'the group has members: stop them first' : 'preview ready';
  };
  $('r-apply').onclick = async () => {
    const inst = 'console-reset-' + Date.now();
    try {
      await api('POST', '/consumers/' + encodeURIComponent(id), {name: inst, format: 'binary'});
      await api('POST', '/consumers/' + encodeURIComponent(id) + '/instances/' + inst + '/offsets', {offsets: plan.map(x => ({topic: x.topic, partition: x.partition, offset: x.offset}))});
      await api('DELETE', '/consumers/' + encodeURIComponent(id) + '/instances/' + inst);
      $('r-msg').innerHTML = '<span class="ok" id="r-done">offsets reset</span>';
      setTimeout(() => groupDetail(id), 300);
    } catch (e) { $('r-msg').innerHTML = '<span class="err">' + esc(e.message) + '</span>'; }
  };
}
const history = [];
let last = null, topicRates = {};
// {topic: value} of a counter labelled by topic alone (topic names hold no quotes).
function metricByTopic(text, name) {
  const out = {}, head = name + '{topic="';
  for (const line of text.split('\n')) {
    if (!line.startsWith(head)) continue;
    const topic = line.slice(head.length, line.indexOf('"}', head.length));
    out[topic] = (out[topic] || 0) + Number(line.split(' ').pop());
  }
  return out;
}
function metricSum(text, name) {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name + '{') || line.startsWith(name + ' ')) sum += Number(line.split(' ').pop());
  return sum;
}
async function sample() {
  const text = await (await fetch('/metrics')).text();
  const now = {t: Date.now(), in: metricSum(text, 'strata_bytes_in_total'), out: metricSum(text, 'strata_bytes_out_total'),
               topicsIn: metricByTopic(text, 'strata_bytes_in_total'), topicsOut: metricByTopic(text, 'strata_bytes_out_total')};
  if (last) {
    const dt = (now.t - last.t) / 1000;
    history.push({in: (now.in - last.in) / dt, out: (now.out - last.out) / dt});
    if (history.length > 120) history.shift();
    topicRates = {};
    for (const t of new Set([...Object.keys(now.topicsIn), ...Object.keys(now.topicsOut)]))
      topicRates[t] = {in: ((now.topicsIn[t] || 0) - (last.topicsIn[t] || 0)) / dt,
                       out: ((now.topicsOut[t] || 0) - (last.topicsOut[t] || 0)) / dt};
  }
  last = now;
  draw();
}
function draw() {
  const c = $('chart'), g = c.getContext('2d');
  g.clearRect(0, 0, c.width, c.height);
  const max = Math.max(1, ...history.map(h => Math.max(h.in, h.out)));
  for (const [key, color] of [['in', '#1a5fd1'], ['out', '#137333']]) {
    g.strokeStyle = color; g.beginPath();
    history.forEach((h, i) => { const x = i * c.width / 120, y = c.height - 10 - h[key] / max * (c.height - 20); i ? g.lineTo(x, y) : g.moveTo(x, y); });
    g.stroke();
  }
  const h = history[history.length - 1];
  if (h) $('tp-now').textContent = 'in ' + (h.in / 1e6).toFixed(2) + ' MB/s, out ' + (h.out / 1e6).toFixed(2) + ' MB/s (max of chart ' + (max / 1e6).toFixed(2) + ' MB/s)';
}
const loaders = {overview, topics, messages: async () => {}, groups, throughput: sample};
document.querySelectorAll('#tabs button').forEach(b => b.onclick = () => {
  document.querySelectorAll('#tabs button').forEach(x => x.classList.toggle('on', x === b));
  document.querySelectorAll('main section').forEach(s => s.classList.toggle('on', s.id === b.dataset.tab));
  loaders[b.dataset.tab]().catch(e => $('status').textContent = e.message);
});
document.addEventListener('click', e => {
  const t = e.target;
  if (t.dataset.topic) topicDetail(t.dataset.topic);
  if (t.dataset.group) groupDetail(t.dataset.group);
  if (t.dataset.delete && confirm('Delete topic ' + t.dataset.delete + '?')) api('DELETE', base() + '/topics/' + encodeURIComponent(t.dataset.delete)).then(topics);
});
$('t-create').onclick = async () => {
  try {
    await api('POST', base() + '/topics', {topic_name: $('t-name').value, partitions_count: Number($('t-parts').value), replication_factor: Number($('t-rf').value)});
    $('t-msg').innerHTML = '<span class="ok">created</span>'; topics();
  } catch (e) { $('t-msg').innerHTML = '<span class="err">' + esc(e.message) + '</span>'; }
};
$('p-send').onclick = produce;
$('m-load').onclick = browse;
overview().catch(e => $('status').textContent = e.message);
setInterval(() => sample().catch(() => {}), 2000);
</script></body></html>
)PAGE";

}  // namespace strata::rest
