// The dashboard page: one self-contained HTML document (inline CSS and JS, no build step, no
// CDN). It renders the status pushed over /api/events and sends button clicks, both with the
// token. The stream is read with fetch, not EventSource, because EventSource cannot send an
// Authorization header, and a token in the query string would end up in logs and history.
//
// How the page gets the token without exposing it cross-origin: the daemon prints
// `http://HOST:PORT/#token=<hex>`; a URL fragment never reaches any server or Referer, the page
// moves it into localStorage for this origin and strips it from the address bar. Opened without
// it (or with a token of an earlier daemon), the page asks for the token (`cat <home>/token`)
// and shows nothing until it has one. No route serves it.

export const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>bosun</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{padding:12px 20px;background:#1d2330;color:#fff;display:flex;gap:16px;align-items:baseline}
header h1{font-size:18px;margin:0} #conn{font-size:12px;opacity:.8}
main{padding:16px 20px} table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px #0002}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e4e7ec;white-space:nowrap} th{font-size:12px;color:#5b6475;text-transform:uppercase}
td.reason{white-space:normal;font-size:12px;color:#8a3b12}
.state{padding:2px 8px;border-radius:10px;font-size:12px;background:#e4e7ec}
.ready,.running{background:#d3f5dd;color:#145c2b}.starting,.backoff,.stopping{background:#fff1c2;color:#7a5a00}.failed{background:#ffd9d6;color:#8f1d14}.stopped{background:#e4e7ec}
button{font-size:12px;margin-right:4px;cursor:pointer} pre{background:#11151c;color:#d6dde8;padding:8px 10px;margin:0;max-height:160px;overflow:auto;font-size:12px}
tr.logs td{padding:0 10px 8px} #msg{margin:8px 0;color:#8f1d14;min-height:1.4em}
#login{margin:8px 0} #login[hidden]{display:none} #login input{font:inherit;width:34em}
</style></head>
<body><header><h1>bosun</h1><span id="conn">connecting…</span></header>
<main><div id="msg"></div>
<form id="login" hidden><label>Dashboard token (the contents of <code>&lt;home&gt;/token</code>): <input id="token" type="password" autocomplete="off" spellcheck="false"></label> <button type="submit">open</button></form>
<table><thead><tr><th>program</th><th>id</th><th>state</th><th>pid</th><th>uptime</th><th>restarts</th><th>memory</th><th>cpu</th><th></th><th>actions</th><th>reason / last exit</th></tr></thead>
<tbody id="rows"></tbody></table></main>
<script>
(function(){
  'use strict';
  var m = /[#&]token=([0-9a-fA-F]+)/.exec(location.hash);
  if (m) { localStorage.setItem('bosun-token', m[1]); history.replaceState(null, '', location.pathname + location.search); }
  var rows = document.getElementById('rows'), msg = document.getElementById('msg'), conn = document.getElementById('conn');
  var openLogs = {};
  function el(tag, attrs, text){ var e = document.createElement(tag); for (var k in attrs) e.setAttribute(k, attrs[k]); if (text !== undefined) e.textContent = text; return e; }
  function dur(ms){ if (ms < 1000) return Math.round(ms) + 'ms'; var s = Math.floor(ms/1000); if (s < 60) return s + 's'; if (s < 3600) return Math.floor(s/60) + 'm' + (s%60) + 's'; return Math.floor(s/3600) + 'h' + Math.floor(s%3600/60) + 'm'; }
  function size(b){ if (b < 1048576) return (b/1024).toFixed(0) + 'KB'; return (b/1048576).toFixed(1) + 'MB'; }
  function spark(vals){
    var ns = 'http://www.w3.org/2000/svg', svg = document.createElementNS(ns, 'svg'); svg.setAttribute('width', '80'); svg.setAttribute('height', '20');
    if (vals.length > 1) { var max = Math.max(5, Math.max.apply(null, vals)), pts = vals.map(function(v, i){ return (i * 80 / (vals.length - 1)).toFixed(1) + ',' + (19 - v * 18 / max).toFixed(1); }).join(' ');
      var pl = document.createElementNS(ns, 'polyline'); pl.setAttribute('points', pts); pl.setAttribute('fill', 'none'); pl.setAttribute('stroke', '#3867d6'); svg.appendChild(pl); }
    return svg;
  }
  var login = document.getElementById('login'), tokenInput = document.getElementById('token');
  function token(){ return localStorage.getItem('bosun-token'); }
  function askToken(why){ localStorage.removeItem('bosun-token'); msg.textContent = why || ''; conn.textContent = 'needs the token'; login.hidden = false; tokenInput.focus(); }
  login.addEventListener('submit', function(e){ e.preventDefault(); var t = tokenInput.value.trim(); if (!/^[0-9a-fA-F]+$/.test(t)) { msg.textContent = 'a token is hex digits'; return; } localStorage.setItem('bosun-token', t); tokenInput.value = ''; login.hidden = true; msg.textContent = ''; connect(); });
  function act(name, action){
    var t = token(); if (!t) return askToken();
    msg.textContent = action + ' ' + name + '…';
    fetch('/api/programs/' + encodeURIComponent(name) + '/' + action, { method: 'POST', headers: { authorization: 'Bearer ' + t } }).then(function(r){
      if (r.status === 403) return askToken('token refused: reopen the URL the daemon printed, or enter the token again');
      return r.json().then(function(b){ msg.textContent = r.ok ? '' : (b.error || ('HTTP ' + r.status)); });
    }, function(e){ msg.textContent = String(e); });
  }
  function render(data){
    rows.textContent = '';
    data.status.programs.forEach(function(p){
      var key = p.name + '[' + p.instance + ']', d = data.details[key] || { tail: [], cpu: [] };
      var tr = el('tr', { 'data-program': p.name, 'data-instance': String(p.instance) });
      tr.appendChild(el('td', { 'class': 'name' }, p.name)); tr.appendChild(el('td', {}, String(p.instance)));
      var st = el('td'); st.appendChild(el('span', { 'class': 'state ' + p.state, 'data-field': 'state' }, p.state)); tr.appendChild(st);
      tr.appendChild(el('td', { 'data-field': 'pid' }, p.pid === null ? '-' : String(p.pid)));
      tr.appendChild(el('td', {}, p.pid === null ? '-' : dur(p.uptimeMs)));
      tr.appendChild(el('td', { 'data-field': 'restarts' }, String(p.restarts)));
      tr.appendChild(el('td', {}, p.pid === null ? '-' : size(p.memoryBytes)));
      tr.appendChild(el('td', {}, p.pid === null ? '-' : p.cpuPercent.toFixed(1) + '%'));
      var sp = el('td'); sp.appendChild(spark(d.cpu)); tr.appendChild(sp);
      var acts = el('td');
      ['restart', 'stop', 'start'].forEach(function(a){ var b = el('button', { 'data-action': a }, a); b.onclick = function(){ act(p.name, a); }; acts.appendChild(b); });
      var lb = el('button', { 'data-action': 'logs' }, openLogs[key] ? 'hide logs' : 'logs'); lb.onclick = function(){ openLogs[key] = !openLogs[key]; render(last); }; acts.appendChild(lb);
      tr.appendChild(acts);
      tr.appendChild(el('td', { 'class': 'reason' }, p.reason || (p.lastExit ? 'exit code=' + p.lastExit.code + ' signal=' + p.lastExit.signal + ' at ' + p.lastExit.at : '')));
      rows.appendChild(tr);
      if (openLogs[key]) { var lr = el('tr', { 'class': 'logs' }), td = el('td', { colspan: '11' }); td.appendChild(el('pre', {}, d.tail.join('\\n') || '(no output yet)')); lr.appendChild(td); rows.appendChild(lr); }
    });
  }
  var last = null, retryMs = 1000;
  function onEvent(block){
    var type = 'message', data = [];
    block.split('\\n').forEach(function(line){ var i = line.indexOf(':'); if (i <= 0) return; var k = line.slice(0, i), v = line.slice(i + 1).replace(/^ /, ''); if (k === 'event') type = v; else if (k === 'data') data.push(v); else if (k === 'retry' && /^\\d+$/.test(v)) retryMs = Number(v); });
    if (type === 'status' && data.length > 0) { last = JSON.parse(data.join('\\n')); render(last); conn.textContent = 'live · ' + new Date().toLocaleTimeString(); }
  }
  // Server-sent events over fetch, so the token goes in the Authorization header.
  function connect(){
    var t = token(); if (!t) return askToken();
    fetch('/api/events', { headers: { authorization: 'Bearer ' + t }, cache: 'no-store' }).then(function(r){
      if (r.status === 403) return askToken('token refused: reopen the URL the daemon printed, or enter the token again');
      if (!r.ok || !r.body) throw new Error('HTTP ' + r.status);
      var reader = r.body.getReader(), dec = new TextDecoder(), buf = '';
      function pump(){
        return reader.read().then(function(x){
          if (x.done) throw new Error('stream ended');
          buf += dec.decode(x.value, { stream: true });
          for (var i; (i = buf.indexOf('\\n\\n')) >= 0; ) { onEvent(buf.slice(0, i)); buf = buf.slice(i + 2); }
          return pump();
        });
      }
      return pump();
    }).catch(function(){ conn.textContent = 'disconnected, retrying…'; setTimeout(connect, retryMs); });
  }
  connect();
})();
</script></body></html>
`;
