// The dashboard page: one self-contained HTML document (inline CSS and JS, no build step, no
// CDN), served under a CSP that allows nothing else. The script (page-script.ts) renders what
// /api/events streams and sends button clicks, both with the token. The stream is read with
// fetch, not EventSource, because EventSource cannot send an Authorization header, and a token
// in the query string would end up in logs and history.
//
// How the page gets the token without exposing it cross-origin: the daemon prints
// `http://HOST:PORT/#token=<hex>`; a URL fragment never reaches any server or Referer, the page
// moves it into localStorage for this origin and strips it from the address bar (also when the
// URL is pasted into a tab that already shows the page: only the fragment changes then, so it
// arrives as a hashchange, not a load). Opened without it (or with a token of an earlier
// daemon), the page asks for the token (`cat <home>/token`) and shows nothing until it has one.
// No route serves it.
//
// Layout: one <section> of programs (a fleet across hosts adds one per host), one <article>
// per program with its details and buttons, one block per instance with its row, buttons and
// a panel (log view, memory and CPU charts, restart timeline). Other pages (the queue) are
// linked from the header's <nav>. Nothing is rebuilt on an update: the script changes only
// the text and nodes that changed, so a selection, a scroll position or an open panel stays.

import { FLEET_SCRIPT, FLEET_SECTION, FLEET_STYLE } from './fleet-view.js';
import { SCRIPT } from './page-script.js';

const STYLE = `
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header.top{padding:10px 20px;background:#1d2330;color:#fff;display:flex;flex-wrap:wrap;gap:4px 16px;align-items:baseline}
header.top h1{font-size:18px;margin:0} header.top nav a{color:#aac4ff;margin-right:12px} #conn{font-size:12px;opacity:.8;margin-left:auto}
main{padding:12px 20px;max-width:1400px}
#msg{margin:4px 0 8px;color:#8f1d14;min-height:1.4em;overflow-wrap:anywhere}
#daemon-problems{margin:0 0 8px;padding:6px 10px;background:#ffd9d6;color:#8f1d14;border-radius:3px;white-space:pre-line;overflow-wrap:anywhere}
#login{margin:8px 0;display:flex;flex-wrap:wrap;gap:6px;align-items:center} #login[hidden],[hidden]{display:none!important} #login input{font:inherit;width:min(34em,100%)}
section.programs{display:flex;flex-direction:column;gap:14px}
article.program{background:#fff;box-shadow:0 1px 2px #0002;border-radius:4px}
.phead{display:flex;flex-wrap:wrap;align-items:center;gap:6px 12px;padding:8px 12px;border-bottom:1px solid #e4e7ec}
.phead h2{font-size:16px;margin:0;overflow-wrap:anywhere} .psum{font-size:12px;color:#5b6475} .phead .btns{margin-left:auto}
.btns{display:flex;flex-wrap:wrap;gap:4px} button{font:12px system-ui,sans-serif;cursor:pointer;padding:2px 8px;border:1px solid #b8bfcc;border-radius:3px;background:#f6f7f9;color:#1d2330}
button:hover{background:#e9edf5} button:disabled{opacity:.5;cursor:wait} button[aria-pressed=true]{background:#dde6fb;border-color:#7f9ad8}
dl.pinfo{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:0;padding:8px 12px;font-size:12px;border-bottom:1px solid #e4e7ec;background:#fafbfc}
dl.pinfo dt{color:#5b6475} dl.pinfo dd{margin:0;font-family:ui-monospace,monospace;overflow-wrap:anywhere}
.irow{display:grid;grid-template-columns:110px 92px 70px 70px 64px 76px 56px 84px minmax(180px,1fr);gap:0 8px;align-items:center;padding:5px 12px}
.ihead{font-size:11px;color:#5b6475;text-transform:uppercase;border-bottom:1px solid #e4e7ec}
.inst{border-bottom:1px solid #eef0f3} .inst:last-child{border-bottom:0}
.c{white-space:nowrap;overflow:hidden;text-overflow:ellipsis;font-variant-numeric:tabular-nums} .iname{font-weight:600}
.state{padding:1px 8px;border-radius:10px;font-size:12px;background:#e4e7ec}
.state.ready,.state.running{background:#d3f5dd;color:#145c2b}.state.starting,.state.backoff,.state.stopping,.state.waiting{background:#fff1c2;color:#7a5a00}.state.failed{background:#ffd9d6;color:#8f1d14}
.reason{font-size:12px;color:#8a3b12;padding:0 12px 5px;overflow-wrap:anywhere}
.panel{padding:4px 12px 12px;display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:10px}
.logwrap{position:relative;grid-row:span 2;min-width:0}
.log{background:#11151c;color:#d6dde8;margin:0;height:320px;overflow-y:auto;overflow-anchor:none;font:12px/1.45 ui-monospace,monospace;padding:6px 8px;border-radius:3px;white-space:pre-wrap;overflow-wrap:anywhere}
.log .stderr{color:#ffb4a8} .log .event{color:#8fb3ff;border-top:1px solid #2c3546;margin-top:2px} .log .event.crash{color:#ff8f80;background:#3a1d1d;border-top-color:#703030}
.log .gap,.log .empty{color:#7d8799;font-style:italic}
.jump{position:absolute;right:14px;bottom:8px;background:#3867d6;color:#fff;border-color:#3867d6}
figure.chart{margin:0;min-width:0} .ctitle{font-size:12px;color:#5b6475;display:flex;justify-content:space-between;gap:8px;flex-wrap:wrap}
figure.chart svg{width:100%;height:64px;background:#fafbfc;border:1px solid #e4e7ec;border-radius:3px;display:block}
.axis{font-size:10px;color:#8a93a3;display:flex;justify-content:space-between}
.charts{display:grid;gap:8px;min-width:0} .timeline{min-width:0}
svg.tstrip{width:100%;height:26px;background:#fafbfc;border:1px solid #e4e7ec;border-radius:3px;display:block}
ol.tlist{list-style:none;margin:4px 0 0;padding:0;font-size:12px;max-height:150px;overflow-y:auto}
ol.tlist li{padding:1px 0;overflow-wrap:anywhere} ol.tlist time{color:#5b6475;font-variant-numeric:tabular-nums;margin-right:6px}
.ev{font-weight:600} .ev.exited{color:#5b6475} .ev.crash{color:#b3261e} .ev.restarting{color:#8a5a00} .ev.started,.ev.ready{color:#1d7a3a} .ev.stopped{color:#5b6475}
.why{color:#8a3b12}
@media (max-width:760px){
  main{padding:10px}
  header.top{padding:8px 10px}
  .irow.ihead{display:none}
  .irow{display:flex;flex-wrap:wrap;gap:3px 12px;padding:6px 10px}
  .c[data-label]::before{content:attr(data-label) " ";color:#5b6475;font-size:11px}
  .c.spark{display:none} .irow .btns{flex-basis:100%}
  .phead .btns{margin-left:0}
  .panel{grid-template-columns:minmax(0,1fr);padding:4px 10px 10px} .logwrap{grid-row:auto}
  .log{height:260px}
  dl.pinfo{grid-template-columns:minmax(0,1fr)} dl.pinfo dd{margin-bottom:4px}
}
`;

export const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>bosun</title>
<style>${STYLE}${FLEET_STYLE}</style></head>
<body><header class="top"><h1>bosun</h1><nav id="nav"><a href="/" aria-current="page">programs</a><a href="/queue" id="nav-queue" hidden>jobs</a></nav><span id="conn">connecting…</span></header>
<main><div id="msg" role="status"></div><div id="daemon-problems" role="alert" hidden></div>
<form id="login" hidden><label for="token">Dashboard token (the contents of <code>&lt;home&gt;/token</code>):</label> <input id="token" type="password" autocomplete="off" spellcheck="false"> <button type="submit">open</button></form>
<section id="programs" class="programs" aria-label="programs" hidden></section>${FLEET_SECTION}</main>
<script>${SCRIPT}</script><script>${FLEET_SCRIPT}</script></body></html>
`;
