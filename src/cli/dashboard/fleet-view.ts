// The dashboard's view of the fleet across hosts: a section below the local table, one group
// per host (its state, when it was last seen) with that host's instances, read from
// GET /api/fleet (with the token) every 2 s. Hidden when the daemon is not in a fleet (404).

export const FLEET_STYLE = `
#fleet h2{font-size:15px;margin:20px 0 6px} #fleet h3{font-size:13px;margin:12px 0 4px;display:flex;gap:8px;align-items:baseline}
#fleet .seen{font-weight:normal;font-size:12px;color:#5b6475}
.standby{background:#dde7ff;color:#1e3d8f}.unreachable{background:#ffd9d6;color:#8f1d14}.gone{background:#e4e7ec;color:#5b6475}.up{background:#d3f5dd;color:#145c2b}
`;

export const FLEET_SECTION = `<section id="fleet" hidden><h2>fleet</h2><div id="hosts"></div></section>`;

export const FLEET_SCRIPT = `
(function(){
  'use strict';
  var box = document.getElementById('fleet'), hosts = document.getElementById('hosts');
  function el(tag, attrs, text){ var e = document.createElement(tag); for (var k in attrs) e.setAttribute(k, attrs[k]); if (text !== undefined) e.textContent = text; return e; }
  function ago(ms){ return ms < 1000 ? Math.round(ms) + 'ms' : (ms / 1000).toFixed(1) + 's'; }
  function render(body){
    hosts.textContent = '';
    body.hosts.forEach(function(h){
      var g = el('div', { 'class': 'host', 'data-host': h.host });
      var title = el('h3', {}, h.host + (h.host === body.self ? ' (this daemon)' : ''));
      title.appendChild(el('span', { 'class': 'state ' + h.state, 'data-field': 'host-state' }, h.state));
      title.appendChild(el('span', { 'class': 'seen' }, h.machine + ', pid ' + h.pid + ', seen ' + ago(h.ageMs) + ' ago'));
      g.appendChild(title);
      var rows = body.programs.filter(function(p){ return p.host === h.host; });
      if (rows.length > 0) {
        var t = el('table'), head = el('tr');
        ['program', 'id', 'state', 'pid', 'restarts', 'reason'].forEach(function(c){ head.appendChild(el('th', {}, c)); });
        t.appendChild(head);
        rows.forEach(function(p){
          var tr = el('tr', { 'data-program': p.name, 'data-instance': String(p.instance) });
          tr.appendChild(el('td', {}, p.name)); tr.appendChild(el('td', {}, String(p.instance)));
          var st = el('td'); st.appendChild(el('span', { 'class': 'state ' + p.state, 'data-field': 'state' }, p.state === 'unreachable' ? 'unreachable (was ' + p.lastState + ')' : p.state)); tr.appendChild(st);
          tr.appendChild(el('td', {}, p.pid === null || p.state === 'unreachable' ? '-' : String(p.pid)));
          tr.appendChild(el('td', {}, String(p.restarts)));
          tr.appendChild(el('td', { 'class': 'reason' }, p.detail || p.reason || ''));
          t.appendChild(tr);
        });
        g.appendChild(t);
      }
      hosts.appendChild(g);
    });
  }
  function poll(){
    var token = localStorage.getItem('bosun-token');
    if (!token) return setTimeout(poll, 2000);
    fetch('/api/fleet', { headers: { authorization: 'Bearer ' + token }, cache: 'no-store' }).then(function(r){
      if (r.status === 404) { box.hidden = true; return; }
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.json().then(function(b){ box.hidden = false; render(b); setTimeout(poll, 2000); });
    }).catch(function(){ setTimeout(poll, 5000); });
  }
  poll();
})();
`;
