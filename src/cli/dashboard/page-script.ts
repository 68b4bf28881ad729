// The dashboard page's script (page.ts puts it inline): plain browser JavaScript, no framework.
// It keeps one view object per program and per instance, keyed as the status rows are, and on
// every event changes only what differs: a text whose value changed, lines appended to a log
// view, a chart's points. So a selection, a scroll position and an open panel survive updates.
//
// A log view follows its end while it is scrolled to the end and stays put once you scroll up
// (a button jumps back). Lines, events and samples carry sequence numbers or times: a snapshot
// after a reconnect may repeat what the page has, and only what is new is added.
//
// Written as String.raw so backslashes reach the browser as written; it must not contain a
// backtick or a dollar-brace.

export const SCRIPT = String.raw`
(function(){
  'use strict';
  var TOKEN_KEY = 'bosun-token', OPEN_KEY = 'bosun-open';
  var WINDOW_MS = 600000;   // charts and timeline: at most the last 10 minutes...
  var GAP_MS = 5000;        // samples further apart than this were not taken (nobody watched): a gap
  var MAX_LINES = 1000;     // lines kept per log view
  var MAX_EVENTS = 200;
  var MIN_SPAN_MS = 60000;  // ...but never less than a minute, however little there is to show

  var msg = byId('msg'), conn = byId('conn'), login = byId('login'), tokenInput = byId('token'), section = byId('programs');
  var programs = {}, instances = {}, epoch = null, now = Date.now(), stream = null, retryMs = 1000, retryTimer = null;
  var open = readOpen();

  function byId(id){ return document.getElementById(id); }
  function el(tag, cls, text){ var e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }
  function svg(tag, attrs){ var e = document.createElementNS('http://www.w3.org/2000/svg', tag); for (var k in attrs) e.setAttribute(k, attrs[k]); return e; }
  function setText(node, text){ if (node.textContent !== text) node.textContent = text; }
  function setClass(node, cls){ if (node.className !== cls) node.className = cls; }
  function dur(ms){ if (ms < 1000) return Math.round(ms) + 'ms'; var s = Math.floor(ms / 1000); if (s < 60) return s + 's'; if (s < 3600) return Math.floor(s / 60) + 'm' + (s % 60) + 's'; if (s < 86400) return Math.floor(s / 3600) + 'h' + Math.floor(s % 3600 / 60) + 'm'; return Math.floor(s / 86400) + 'd' + Math.floor(s % 86400 / 3600) + 'h'; }
  function size(b){ if (b < 1048576) return (b / 1024).toFixed(0) + ' KB'; if (b < 1073741824) return (b / 1048576).toFixed(1) + ' MB'; return (b / 1073741824).toFixed(2) + ' GB'; }
  function pct(v){ return (v < 10 ? v.toFixed(1) : v.toFixed(0)) + '%'; }
  function clock(at){ var d = new Date(at); return d.toLocaleTimeString([], { hour12: false }); }
  function argv(words){ return words.map(function(w){ return /^[\w@%+=:,.\/-]+$/.test(w) ? w : JSON.stringify(w); }).join(' '); }
  function readOpen(){ try { var o = JSON.parse(localStorage.getItem(OPEN_KEY) || '{}'); return o && typeof o === 'object' ? o : {}; } catch (e) { return {}; } }
  function saveOpen(){ try { localStorage.setItem(OPEN_KEY, JSON.stringify(open)); } catch (e) {} }

  // ---- the token -----------------------------------------------------------------------
  function token(){ return localStorage.getItem(TOKEN_KEY); }
  function takeHashToken(){
    var m = /[#&]token=([0-9a-fA-F]+)/.exec(location.hash);
    if (!m) return false;
    localStorage.setItem(TOKEN_KEY, m[1]);
    history.replaceState(null, '', location.pathname + location.search);
    return true;
  }
  function askToken(why){
    localStorage.removeItem(TOKEN_KEY);
    if (stream) { stream.abort(); stream = null; }
    reset();
    msg.textContent = why || ''; conn.textContent = 'needs the token'; login.hidden = false; tokenInput.focus();
  }
  function gotToken(){ login.hidden = true; msg.textContent = ''; connect(); }
  takeHashToken();
  // A #token= URL pasted into this tab changes only the fragment: no load, a hashchange.
  window.addEventListener('hashchange', function(){ if (takeHashToken()) gotToken(); });
  login.addEventListener('submit', function(e){
    e.preventDefault();
    var t = tokenInput.value.trim();
    if (!/^[0-9a-fA-F]+$/.test(t)) { msg.textContent = 'a token is hex digits'; return; }
    localStorage.setItem(TOKEN_KEY, t); tokenInput.value = ''; gotToken();
  });
  var REFUSED = 'token refused: reopen the URL the daemon printed, or enter the token again';

  // ---- actions ---------------------------------------------------------------------------
  function act(target, action, button){
    var t = token(); if (!t) return askToken();
    msg.textContent = action + ' ' + target + '…';
    button.disabled = true;
    fetch('/api/programs/' + encodeURIComponent(target) + '/' + action, { method: 'POST', headers: { authorization: 'Bearer ' + t } }).then(function(r){
      if (r.status === 403) return askToken(REFUSED);
      return r.json().then(function(b){ msg.textContent = r.ok ? '' : action + ' ' + target + ': ' + (b.error || ('HTTP ' + r.status)); });
    }, function(e){ msg.textContent = action + ' ' + target + ': ' + e; }).then(function(){ button.disabled = false; });
  }
  function buttons(target, scope){
    var box = el('span', 'btns');
    ['restart', 'stop', 'start'].forEach(function(a){
      var b = el('button', '', a); b.type = 'button'; b.setAttribute('data-action', a); b.setAttribute('data-scope', scope);
      b.title = a + ' ' + target;
      b.onclick = function(){ act(target, a, b); };
      box.appendChild(b);
    });
    return box;
  }
  function toggle(label, key, onChange){
    var b = el('button', 'toggle', label); b.type = 'button'; b.setAttribute('data-action', label); b.setAttribute('aria-pressed', open[key] ? 'true' : 'false');
    b.onclick = function(){ open[key] = !open[key]; if (!open[key]) delete open[key]; saveOpen(); b.setAttribute('aria-pressed', open[key] ? 'true' : 'false'); onChange(!!open[key]); };
    return b;
  }

  // ---- programs --------------------------------------------------------------------------
  // Where a program's article goes. One section now; a fleet across hosts groups by p.host.
  function containerFor(p){ return section; }

  function programView(name){
    var pv = programs[name];
    if (pv) return pv;
    pv = programs[name] = { name: name, info: null };
    pv.el = el('article', 'program'); pv.el.setAttribute('data-program', name);
    var head = el('header', 'phead');
    head.appendChild(el('h2', '', name));
    pv.sum = el('span', 'psum'); head.appendChild(pv.sum);
    var btns = buttons(name, 'program');
    btns.appendChild(toggle('details', 'details:' + name, function(on){ pv.dl.hidden = !on; }));
    head.appendChild(btns);
    pv.el.appendChild(head);
    pv.dl = el('dl', 'pinfo'); pv.dl.hidden = !open['details:' + name]; pv.el.appendChild(pv.dl);
    var ihead = el('div', 'irow ihead');
    ['instance', 'state', 'pid', 'uptime', 'restarts', 'memory', 'cpu', 'cpu 2 min', ''].forEach(function(h){ ihead.appendChild(el('span', 'c', h)); });
    pv.el.appendChild(ihead);
    pv.box = el('div', 'insts'); pv.el.appendChild(pv.box);
    return pv;
  }

  function showInfo(pv, info){
    pv.info = info;
    var rows = [['command', argv(info.command)], ['cwd', info.cwd], ['env', info.envKeys.length ? info.envKeys.join(', ') : '(none besides BOSUN_PROGRAM, BOSUN_INSTANCE)']];
    if (info.envFile) rows.push(['env file', info.envFile]);
    rows.push(['instances', String(info.instances) + (info.rolling ? ', rolling restarts' : '')]);
    if (info.listen.length) rows.push(['sockets', info.listen.join(', ')]);
    if (info.cronRestart) rows.push(['schedule', 'restart at cron ' + info.cronRestart]);
    if (info.watch) rows.push(['watch', info.watch.paths.join(', ') + (info.watch.ignore.length ? ' (ignoring ' + info.watch.ignore.join(', ') + ')' : '') + ', debounce ' + dur(info.watch.debounceMs)]);
    rows.push(['restart', info.restart + ', backoff ' + dur(info.backoff.initialMs) + ' ×' + info.backoff.factor + ' up to ' + dur(info.backoff.maxMs) + ', at most ' + info.intensity + ' in ' + dur(info.periodMs)]);
    if (info.after.length) rows.push(['after', info.after.join(', ')]);
    if (info.ready) rows.push(['ready', info.ready + ' within ' + dur(info.readyTimeoutMs)]);
    var limits = [];
    if (info.memoryLimitBytes !== undefined) limits.push('memory ' + size(info.memoryLimitBytes));
    if (info.activityTimeoutMs !== undefined) limits.push('silent for ' + dur(info.activityTimeoutMs));
    limits.push('stop: ' + info.killSignal + ', SIGKILL after ' + dur(info.killTimeoutMs));
    rows.push(['limits', limits.join('; ')]);
    if (info.placement) rows.push(['placement', info.placement]);
    rows.push(['log files', info.logFiles.join(', ')]);
    var frag = document.createDocumentFragment();
    rows.forEach(function(r){ var dt = el('dt', '', r[0]); var dd = el('dd', '', r[1]); dd.setAttribute('data-info', r[0]); frag.appendChild(dt); frag.appendChild(dd); });
    pv.dl.textContent = ''; pv.dl.appendChild(frag);
  }

  function applyPrograms(list){
    list.forEach(function(info){ showInfo(programView(info.name), info); });
  }

  // ---- instances -------------------------------------------------------------------------
  function instanceView(pv, p, key){
    var iv = instances[key];
    if (iv) return iv;
    var target = p.name + ':' + p.instance;
    iv = instances[key] = { key: key, name: p.name, index: p.instance, lastSeq: -1, lastEventSeq: -1, events: [], samples: { at: [], cpu: [], memory: [] }, follow: true, unseen: false };
    iv.el = el('div', 'inst'); iv.el.setAttribute('data-program', p.name); iv.el.setAttribute('data-instance', String(p.instance)); iv.el.setAttribute('data-key', key);
    var row = el('div', 'irow');
    var nm = el('span', 'c iname', target); nm.title = target; row.appendChild(nm);
    var st = el('span', 'c'); iv.state = el('span', 'state'); iv.state.setAttribute('data-field', 'state'); st.appendChild(iv.state); row.appendChild(st);
    iv.f = {};
    [['pid', 'pid'], ['uptime', 'up'], ['restarts', 'restarts'], ['memory', 'mem'], ['cpu', 'cpu']].forEach(function(f){
      var c = el('span', 'c'); c.setAttribute('data-field', f[0]); c.setAttribute('data-label', f[1]); iv.f[f[0]] = c; row.appendChild(c);
    });
    var sp = el('span', 'c spark'); iv.spark = svg('svg', { viewBox: '0 0 80 20', width: '80', height: '20', preserveAspectRatio: 'none' }); sp.appendChild(iv.spark); row.appendChild(sp);
    var btns = buttons(target, 'instance');
    btns.appendChild(toggle('logs', 'logs:' + key, function(on){ showPanel(iv, on); }));
    row.appendChild(btns);
    iv.el.appendChild(row);
    iv.reason = el('div', 'reason'); iv.reason.setAttribute('data-field', 'reason'); iv.el.appendChild(iv.reason);

    iv.panel = el('div', 'panel'); iv.panel.hidden = true;
    var wrap = el('div', 'logwrap');
    iv.log = el('div', 'log'); iv.log.setAttribute('role', 'log'); iv.log.setAttribute('tabindex', '0'); iv.log.setAttribute('aria-label', 'output of ' + target);
    iv.log.appendChild(el('div', 'empty', '(no output yet)'));
    iv.log.addEventListener('scroll', function(){ if (iv.log.clientHeight > 0) { iv.follow = atEnd(iv.log); if (iv.follow) { iv.unseen = false; iv.jump.hidden = true; } } });
    iv.jump = el('button', 'jump', '↓ new lines'); iv.jump.type = 'button'; iv.jump.hidden = true;
    iv.jump.onclick = function(){ iv.follow = true; iv.log.scrollTop = iv.log.scrollHeight; iv.jump.hidden = true; };
    wrap.appendChild(iv.log); wrap.appendChild(iv.jump); iv.panel.appendChild(wrap);
    var charts = el('div', 'charts');
    iv.mem = chartView('memory'); iv.cpu = chartView('cpu'); charts.appendChild(iv.mem.el); charts.appendChild(iv.cpu.el);
    iv.panel.appendChild(charts);
    var tl = el('div', 'timeline');
    var tt = el('div', 'ctitle'); iv.ttitle = el('span', '', 'restarts and exits'); tt.appendChild(iv.ttitle); iv.tsum = el('span'); tt.appendChild(iv.tsum); tl.appendChild(tt);
    iv.strip = svg('svg', { 'class': 'tstrip', viewBox: '0 0 600 26', preserveAspectRatio: 'none' }); tl.appendChild(iv.strip);
    iv.tlist = el('ol', 'tlist'); iv.tlist.setAttribute('aria-label', 'lifecycle events of ' + target); tl.appendChild(iv.tlist);
    iv.panel.appendChild(tl);
    iv.el.appendChild(iv.panel);
    if (open['logs:' + key]) showPanel(iv, true);
    return iv;
  }

  function showPanel(iv, on){
    iv.panel.hidden = !on;
    if (on) { if (iv.follow) iv.log.scrollTop = iv.log.scrollHeight; drawCharts(iv); drawStrip(iv); }
  }

  function updateInstance(iv, p){
    var live = p.pid !== null;
    setClass(iv.state, 'state ' + p.state);
    setText(iv.state, p.state + (p.suspended ? ' (SIGSTOP)' : ''));
    setText(iv.f.pid, live ? String(p.pid) : '-');
    setText(iv.f.uptime, live ? dur(p.uptimeMs) : '-');
    setText(iv.f.restarts, String(p.restarts));
    setText(iv.f.memory, live && p.memoryBytes > 0 ? size(p.memoryBytes) : '-');
    setText(iv.f.cpu, live ? pct(p.cpuPercent) : '-');
    var why = [];
    if (p.waitingFor && p.waitingFor.length) why.push('waiting for ' + p.waitingFor.join(', '));
    if (p.detail) why.push((p.reason && p.detail.indexOf(p.reason) < 0 ? p.reason + ': ' : '') + p.detail);
    else if (p.reason) why.push(p.reason);
    if (p.lastExit) why.push('last exit code=' + p.lastExit.code + ' signal=' + p.lastExit.signal + ' at ' + clock(Date.parse(p.lastExit.at)));
    if (p.logError) why.push('log file: ' + p.logError);
    setText(iv.reason, why.join(' · '));
    iv.reason.hidden = why.length === 0;
  }

  // ---- log view --------------------------------------------------------------------------
  /** An end the program did not ask for: failed, or exited other than cleanly or by our command. */
  function crashed(event, reason, text){
    if (event === 'failed') return true;
    if (event !== 'exited') return false;
    if (reason === 'command' || reason === 'watch' || reason === 'cron') return false;
    return !/code=0 signal=null/.test(text);
  }
  function atEnd(box){ return box.scrollHeight - box.clientHeight - box.scrollTop <= 2; }

  function addLines(iv, lines){
    var fresh = lines.filter(function(l){ return l.seq > iv.lastSeq; });
    if (fresh.length === 0) return;
    var box = iv.log;
    // Hidden (display: none) it has no size: whether it followed is what it did when last seen.
    var follow = box.clientHeight === 0 ? iv.follow : atEnd(box);
    var frag = document.createDocumentFragment();
    if (box.firstChild && box.firstChild.className === 'empty') box.removeChild(box.firstChild);
    if (iv.lastSeq >= 0 && fresh[0].seq > iv.lastSeq + 1) frag.appendChild(el('div', 'gap', '… ' + (fresh[0].seq - iv.lastSeq - 1) + ' lines not shown (the log file has them: bosun logs ' + iv.name + ')'));
    fresh.forEach(function(l){
      var d = el('div', l.stream === 'event' ? 'event ' + (l.event || '') + (crashed(l.event, l.reason, l.text) ? ' crash' : '') : l.stream, l.stream === 'event' ? '── ' + clock(l.at) + ' ' + l.text : l.text);
      if (l.at !== undefined) d.title = new Date(l.at).toLocaleString();
      frag.appendChild(d);
    });
    box.appendChild(frag);
    iv.lastSeq = fresh[fresh.length - 1].seq;
    var extra = box.childNodes.length - MAX_LINES;
    if (extra > 0) {
      var before = box.scrollHeight;
      while (extra-- > 0) box.removeChild(box.firstChild);
      // Lines left above the view: keep what is on screen where it was.
      if (!follow) box.scrollTop -= before - box.scrollHeight;
    }
    if (follow) box.scrollTop = box.scrollHeight;
    else if (box.clientHeight > 0) { iv.unseen = true; iv.jump.hidden = false; }
    iv.follow = follow;
  }

  // ---- charts ----------------------------------------------------------------------------
  function chartView(kind){
    var c = { kind: kind };
    c.el = el('figure', 'chart'); c.el.setAttribute('data-chart', kind);
    var t = el('figcaption', 'ctitle'); c.title = el('span', '', kind); c.stat = el('span'); t.appendChild(c.title); t.appendChild(c.stat); c.el.appendChild(t);
    c.svg = svg('svg', { viewBox: '0 0 600 60', preserveAspectRatio: 'none', role: 'img', 'aria-label': kind + ', last 10 minutes' });
    c.el.appendChild(c.svg);
    var ax = el('div', 'axis'); c.left = el('span', '', ''); ax.appendChild(c.left); ax.appendChild(el('span', '', 'now')); c.el.appendChild(ax);
    return c;
  }

  function addSamples(iv, s){
    var have = iv.samples, last = have.at.length ? have.at[have.at.length - 1] : -Infinity;
    for (var i = 0; i < s.at.length; i++) {
      if (s.at[i] <= last) continue;
      have.at.push(s.at[i]); have.cpu.push(s.cpu[i]); have.memory.push(s.memory[i]);
    }
    var drop = 0;
    while (drop < have.at.length && have.at[drop] < now - WINDOW_MS) drop++;
    if (drop > 0) { have.at.splice(0, drop); have.cpu.splice(0, drop); have.memory.splice(0, drop); }
  }

  /** How far back a view goes: what there is to show, between a minute and WINDOW_MS. */
  function spanFor(oldest){ return Math.min(WINDOW_MS, Math.max(MIN_SPAN_MS, now - oldest)); }
  function ago(ms){ return ms >= 60000 ? Math.round(ms / 60000) + ' min ago' : Math.round(ms / 1000) + ' s ago'; }

  /** Polylines of (at, value) over the span, broken where samples were not taken. */
  function plot(c, at, vals, max, fmt, limit){
    var span = spanFor(at.length ? at[0] : now), from = now - span, pts = [], lines = [], seen = 0, top = 0;
    c.svg.textContent = '';
    setText(c.left, ago(span));
    for (var i = 0; i < at.length; i++) {
      if (at[i] < from) continue;
      if (pts.length && at[i] - at[i - 1] > GAP_MS) { lines.push(pts); pts = []; }
      pts.push(((at[i] - from) * 600 / span).toFixed(1) + ',' + (58 - vals[i] * 54 / max).toFixed(1));
      seen++; top = Math.max(top, vals[i]);
    }
    if (pts.length) lines.push(pts);
    if (limit !== undefined) c.svg.appendChild(svg('line', { x1: 0, x2: 600, y1: (58 - limit * 54 / max).toFixed(1), y2: (58 - limit * 54 / max).toFixed(1), stroke: '#d0453a', 'stroke-dasharray': '4 3', 'vector-effect': 'non-scaling-stroke' }));
    lines.forEach(function(p){
      var pl = svg('polyline', { points: p.length === 1 ? p[0] + ' ' + p[0].replace(/^[\d.]+/, function(x){ return String(Number(x) + 2); }) : p.join(' '), fill: 'none', stroke: c.kind === 'memory' ? '#3867d6' : '#1d9a6c', 'stroke-width': '1.5', 'vector-effect': 'non-scaling-stroke' });
      c.svg.appendChild(pl);
    });
    c.svg.setAttribute('data-points', String(seen));
    setText(c.stat, seen === 0 ? 'no samples yet (taken every second while a dashboard is open)' : 'now ' + fmt(vals[vals.length - 1]) + ' · max ' + fmt(top) + (limit !== undefined ? ' · limit ' + fmt(limit) : ''));
  }

  function drawCharts(iv){
    if (iv.panel.hidden) return;
    var s = iv.samples, pv = programs[iv.name], limit = pv && pv.info ? pv.info.memoryLimitBytes : undefined;
    var memMax = Math.max(1048576, limit || 0, Math.max.apply(null, s.memory.concat([0])) * 1.1);
    plot(iv.mem, s.at, s.memory, memMax, size, limit);
    plot(iv.cpu, s.at, s.cpu, Math.max(5, Math.max.apply(null, s.cpu.concat([0])) * 1.1), pct);
  }

  function drawSpark(iv){
    var s = iv.samples, n = s.at.length, from = now - 120000, pts = [], max = 5;
    for (var i = 0; i < n; i++) if (s.at[i] >= from) max = Math.max(max, s.cpu[i]);
    for (var j = 0; j < n; j++) if (s.at[j] >= from) pts.push(((s.at[j] - from) * 80 / 120000).toFixed(1) + ',' + (19 - s.cpu[j] * 18 / max).toFixed(1));
    iv.spark.textContent = '';
    if (pts.length > 1) iv.spark.appendChild(svg('polyline', { points: pts.join(' '), fill: 'none', stroke: '#3867d6', 'vector-effect': 'non-scaling-stroke' }));
  }

  // ---- restart timeline ------------------------------------------------------------------
  function addEvents(iv, events){
    var fresh = events.filter(function(e){ return e.seq > iv.lastEventSeq; });
    if (fresh.length === 0) return;
    iv.lastEventSeq = fresh[fresh.length - 1].seq;
    Array.prototype.push.apply(iv.events, fresh);
    if (iv.events.length > MAX_EVENTS) iv.events.splice(0, iv.events.length - MAX_EVENTS);
    fresh.forEach(function(e){
      var li = el('li'); li.setAttribute('data-event', e.event); if (e.reason) li.setAttribute('data-reason', e.reason);
      var t = el('time', '', clock(e.at)); t.setAttribute('datetime', new Date(e.at).toISOString()); li.appendChild(t);
      li.appendChild(el('span', 'ev ' + e.event + (crashed(e.event, e.reason, e.details) ? ' crash' : ''), e.event));
      if (e.details) li.appendChild(document.createTextNode(' ' + e.details));
      if (e.reason) li.appendChild(el('span', 'why', ' · ' + e.reason + (e.detail && e.event !== 'failed' ? ': ' + e.detail : '')));
      iv.tlist.insertBefore(li, iv.tlist.firstChild);
    });
    while (iv.tlist.childNodes.length > MAX_EVENTS) iv.tlist.removeChild(iv.tlist.lastChild);
  }

  var MARK = { started: '#1d9a6c', ready: '#1d9a6c', exited: '#d0453a', restarting: '#d99a00', failed: '#8f1d14', stopped: '#8a93a3' };
  function drawStrip(iv){
    if (iv.panel.hidden) return;
    var span = spanFor(iv.events.length ? iv.events[0].at : now), from = now - span, x = function(at){ return Math.max(0, (at - from) * 600 / span); };
    iv.strip.textContent = '';
    setText(iv.ttitle, 'restarts and exits, last ' + ago(span).replace(' ago', ''));
    // Runs as bars (started until it ended), events as marks on them.
    var runStart = null, exits = 0, restarts = 0;
    iv.events.forEach(function(e){
      if (e.event === 'started') runStart = e.at;
      else if ((e.event === 'exited' || e.event === 'failed' || e.event === 'stopped') && runStart !== null) {
        if (e.at >= from) iv.strip.appendChild(svg('rect', { x: x(runStart).toFixed(1), y: 9, width: Math.max(0.5, x(e.at) - x(runStart)).toFixed(1), height: 8, fill: '#d3f5dd' }));
        runStart = null;
      }
    });
    if (runStart !== null) iv.strip.appendChild(svg('rect', { x: x(runStart).toFixed(1), y: 9, width: Math.max(0.5, 600 - x(runStart)).toFixed(1), height: 8, fill: '#d3f5dd' }));
    iv.events.forEach(function(e){
      if (e.at < from || !MARK[e.event] || e.event === 'ready') return;
      var crash = crashed(e.event, e.reason, e.details);
      if (crash) exits++;
      if (e.event === 'restarting') restarts++;
      var h = e.event === 'started' ? 8 : 22, mark = svg('rect', { x: x(e.at).toFixed(1), y: (26 - h) / 2, width: 2, height: h, fill: MARK[e.event], 'vector-effect': 'non-scaling-stroke', 'data-event': e.event });
      mark.setAttribute('fill', e.event === 'exited' && !crash ? MARK.stopped : MARK[e.event]);
      var t = svg('title', {}); t.textContent = clock(e.at) + ' ' + e.event + (e.details ? ' ' + e.details : '') + (e.reason ? ' (' + e.reason + ')' : ''); mark.appendChild(t);
      iv.strip.appendChild(mark);
    });
    setText(iv.tsum, exits + (exits === 1 ? ' crash, ' : ' crashes, ') + restarts + (restarts === 1 ? ' restart' : ' restarts') + ' by policy');
  }

  // ---- applying what the stream says -----------------------------------------------------
  function reset(){
    section.textContent = ''; section.hidden = true;
    programs = {}; instances = {}; epoch = null;
  }

  function applyStatus(status){
    var seen = {}, order = [], byProgram = {};
    var problems = status.daemonOutput || [], banner = byId('daemon-problems');
    banner.hidden = problems.length === 0;
    setText(banner, problems.map(function(p){ return "the daemon's own output to " + p.target + ' is failing: ' + p.error + '; ' + p.lost + (p.lost === 1 ? ' line' : ' lines') + ' lost so far'; }).join('\n'));
    status.programs.forEach(function(p){
      var pv = programView(p.name), key = p.name + '[' + p.instance + ']';
      if (!byProgram[p.name]) { byProgram[p.name] = []; order.push(pv); pv.container = containerFor(p); }
      var iv = instanceView(pv, p, key);
      seen[key] = true;
      byProgram[p.name].push(p);
      updateInstance(iv, p);
      place(pv.box, iv.el, byProgram[p.name].length - 1);
    });
    order.forEach(function(pv, i){
      place(pv.container, pv.el, i);
      var rows = byProgram[pv.name], up = rows.filter(function(p){ return p.pid !== null; }).length;
      setText(pv.sum, rows.length + (rows.length === 1 ? ' instance' : ' instances') + ' · ' + up + ' up');
    });
    Object.keys(instances).forEach(function(k){ if (!seen[k]) { var iv = instances[k]; iv.el.remove(); delete instances[k]; } });
    Object.keys(programs).forEach(function(n){ if (!byProgram[n]) { programs[n].el.remove(); delete programs[n]; } });
  }

  /** Puts node at position i of box, moving it only if it is not there already. */
  function place(box, node, i){
    var at = box.children[i];
    if (at !== node) box.insertBefore(node, at || null);
  }

  function applyInstances(map){
    Object.keys(map).forEach(function(key){
      var iv = instances[key], d = map[key];
      if (!iv) return;
      if (d.lines) addLines(iv, d.lines);
      if (d.events) addEvents(iv, d.events);
      if (d.samples) addSamples(iv, d.samples);
    });
  }

  function redraw(){
    Object.keys(instances).forEach(function(k){ var iv = instances[k]; drawSpark(iv); drawCharts(iv); drawStrip(iv); });
  }

  function onSnapshot(data){
    if (epoch !== null && epoch !== data.epoch) reset();
    epoch = data.epoch; now = data.now;
    applyStatus(data.status);
    applyPrograms(data.programs);
    applyInstances(data.instances);
    byId('nav-queue').hidden = !data.queue;
    section.hidden = false;
    redraw();
  }

  function onUpdate(data){
    if (epoch === null) return;
    now = data.now;
    applyStatus(data.status);
    if (data.programs) applyPrograms(data.programs);
    applyInstances(data.instances);
    redraw();
  }

  function onEvent(block){
    var type = 'message', data = [];
    block.split('\n').forEach(function(line){
      var i = line.indexOf(':'); if (i <= 0) return;
      var k = line.slice(0, i), v = line.slice(i + 1).replace(/^ /, '');
      if (k === 'event') type = v; else if (k === 'data') data.push(v); else if (k === 'retry' && /^\d+$/.test(v)) retryMs = Number(v);
    });
    if (data.length === 0) return;
    if (type === 'snapshot') onSnapshot(JSON.parse(data.join('\n')));
    else if (type === 'update') onUpdate(JSON.parse(data.join('\n')));
    else return;
    conn.textContent = 'live · ' + new Date().toLocaleTimeString();
  }

  // Server-sent events over fetch, so the token goes in the Authorization header.
  function connect(){
    var t = token(); if (!t) return askToken();
    if (stream) stream.abort();
    clearTimeout(retryTimer);
    var ctl = stream = new AbortController();
    conn.textContent = 'connecting…';
    fetch('/api/events', { headers: { authorization: 'Bearer ' + t }, cache: 'no-store', signal: ctl.signal }).then(function(r){
      if (r.status === 403) return askToken(REFUSED);
      if (!r.ok || !r.body) throw new Error('HTTP ' + r.status);
      var reader = r.body.getReader(), dec = new TextDecoder(), buf = '';
      function pump(){
        return reader.read().then(function(x){
          if (x.done) throw new Error('stream ended');
          buf += dec.decode(x.value, { stream: true });
          for (var i; (i = buf.indexOf('\n\n')) >= 0; ) { var block = buf.slice(0, i); buf = buf.slice(i + 2); if (ctl === stream) onEvent(block); }
          return pump();
        });
      }
      return pump();
    }).catch(function(){
      if (ctl !== stream) return;   // replaced (a new token) or stopped on purpose
      conn.textContent = 'disconnected, retrying…';
      retryTimer = setTimeout(connect, retryMs);
    });
  }
  connect();
})();
`;
