// The live option-chain page: reads the REST API (/api/v2) and follows the WebSocket
// (/api/v2/subscriptions/websocket). No polling: the chain's minute snapshot (`chain:` topic)
// triggers a re-read of the chain, its statistics, the surface and the gamma exposure; each
// option's `greeks:` and `candles:…:1m` updates move its IV, delta, last and OI as they tick.
// A dropped socket reconnects (with a growing, jittered delay) and resumes every topic from
// its last (epoch, seq), so nothing published meanwhile is missed.
//
// `window.signalPage` exposes the state and counters the browser tests read.

/* global uPlot */

const API = "/api/v2";
const $ = (id) => document.getElementById(id);

const state = {
  underlying: null,
  expiry: null,
  range: 15,
  replayAt: null, // an ISO instant while replaying a past minute
  chain: null, // the chain as last read (REST shape)
  prev: new Map(), // instrument_key -> {last, oi} at the previous session's close, when known
  cells: new Map(), // instrument_key -> {iv, delta, last, chg, oi, oichg} cells
  ws: null,
  wsTopics: [],
  positions: {}, // topic -> {epoch, seq}
  conn: "connecting",
  reconnects: 0,
  resumedUpdates: 0,
  resumeSnapshots: 0,
  liveUpdates: 0,
  chainReads: 0,
  errors: [],
  charts: {},
  refreshTimer: null,
};
window.signalPage = state;

// ---- formatting -------------------------------------------------------------------------

const num = (v, digits = 2) =>
  v === null || v === undefined || Number.isNaN(v)
    ? "–"
    : Number(v).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const pct = (v, digits = 2) => (v === null || v === undefined ? "–" : `${num(v * 100, digits)} %`);
const int = (v) => (v === null || v === undefined ? "–" : Math.round(v).toLocaleString("en-US"));
const signed = (v, f) => (v === null || v === undefined ? "–" : (v > 0 ? "+" : "") + f(v));

// ---- REST ------------------------------------------------------------------------------

async function api(path) {
  const r = await fetch(API + path, { headers: { Accept: "application/json" } });
  const body = await r.json().catch(() => ({ message: r.statusText }));
  if (!r.ok) {
    const e = new Error(body.message || r.statusText);
    e.status = r.status;
    throw e;
  }
  return body;
}

const enc = encodeURIComponent;

function notice(text) {
  const n = $("notice");
  n.hidden = !text;
  n.textContent = text || "";
}

// ---- selection ----------------------------------------------------------------------------

async function loadUnderlyings() {
  const { underlyings } = await api("/instruments/underlyings");
  const sel = $("underlying");
  sel.replaceChildren(
    ...underlyings.filter((u) => u.options > 0).map((u) => new Option(u.key, u.key)),
  );
  const wanted = new URLSearchParams(location.search).get("underlying");
  state.underlying = underlyings.some((u) => u.key === wanted) ? wanted : sel.value;
  sel.value = state.underlying;
}

function fillExpiries(surface) {
  const sel = $("expiry");
  const expiries = surface.expiries.map((e) => e.expiry);
  sel.replaceChildren(...expiries.map((e) => new Option(e, e)));
  if (!expiries.includes(state.expiry)) state.expiry = expiries[0] || null;
  sel.value = state.expiry;
}

// ---- reads ------------------------------------------------------------------------------

async function readAll() {
  const u = enc(state.underlying);
  const surface = await api(`/realtime/surface/${u}`);
  fillExpiries(surface);
  const q = state.expiry ? `?expiry=${state.expiry}` : "";
  const chainPath = state.replayAt
    ? `/historical/chain/${u}?at=${enc(state.replayAt)}${state.expiry ? `&expiry=${state.expiry}` : ""}`
    : `/realtime/chain/${u}${q}`;
  const [chain, stats, gex, rank] = await Promise.all([
    api(chainPath),
    api(`/realtime/chain/${u}/stats${q}`),
    api(`/realtime/gex/${u}${q}`),
    api(`/historical/moneyness/${u}/iv-rank`).catch(() => null),
  ]);
  state.chainReads += 1;
  rememberCloses(chain);
  state.chain = chain;
  renderSummary(chain, state.replayAt ? null : stats, rank);
  renderTable(chain);
  renderCharts(surface, chain, gex);
  if (!state.replayAt) subscribe();
}

// Each option's previous-session close, from the chain's own changes (`last_change`,
// `oi_change`), so that live updates of last and OI can show theirs too.
function rememberCloses(chain) {
  state.prev = new Map();
  for (const s of chain.strikes) {
    for (const o of [s.call, s.put]) {
      if (!o) continue;
      state.prev.set(o.instrument_key, {
        last: o.last !== undefined && o.last_change !== undefined ? o.last - o.last_change : undefined,
        oi: o.oi_change !== undefined ? o.oi - o.oi_change : undefined,
      });
    }
  }
}

// ---- summary ----------------------------------------------------------------------------

function renderSummary(chain, stats, rank) {
  const m = chain.meta;
  const atmIv = chain.atm_iv;
  $("s-spot").textContent = num(m.spot);
  $("s-forward").textContent = `${num(m.forward.value)} (${m.forward.source.replaceAll("_", " ")})`;
  $("s-dte").textContent = num(m.t_years * 365, 1);
  $("s-atm-iv").textContent = pct(atmIv);
  if (atmIv) {
    const move = m.forward.value * atmIv * Math.sqrt(m.t_years);
    $("s-move").textContent = `± ${num(move)} (${pct(move / m.forward.value)})`;
  } else $("s-move").textContent = "–";
  $("s-pcr").textContent = stats ? num(stats.pcr_by_oi, 3) : "–";
  $("s-max-pain").textContent = stats ? num(stats.max_pain_strike, 0) : "–";
  $("s-rr").textContent = stats ? signed(stats.risk_reversal_25d, (v) => pct(v)) : "–";
  $("s-bf").textContent = stats ? signed(stats.butterfly_25d, (v) => pct(v)) : "–";
  if (rank && rank.today && rank.history_days === 0) {
    $("s-rank").textContent = "– (no history yet)";
    $("s-rank").title = `30-day ATM IV today ${pct(rank.today.atm_iv_30d)}`;
  } else if (rank && rank.today) {
    const r = rank.iv_rank === undefined ? "–" : num(rank.iv_rank * 100, 0);
    $("s-rank").textContent = `${r} (pctl ${rank.iv_percentile === undefined ? "–" : num(rank.iv_percentile * 100, 0)}, ${rank.history_days} d)`;
    $("s-rank").title = `30-day ATM IV today ${pct(rank.today.atm_iv_30d)}`;
  } else $("s-rank").textContent = "– (no history)";
  const when = new Date(m.as_of);
  $("asof").textContent =
    `${m.underlying} ${m.expiry} · as of ${when.toISOString().replace(".000Z", "Z")}` +
    (m.stale ? " · stale (no newer data)" : "") +
    (state.replayAt ? " · replay" : "");
}

// ---- table ------------------------------------------------------------------------------

const SIDE = ["last", "chg", "bid", "ask", "iv", "delta", "oi", "oichg", "volume"];

function visibleStrikes(chain) {
  const all = chain.strikes;
  const atm = chain.meta.atm_strike;
  if (!state.range || atm === undefined) return all;
  const i = Math.max(0, all.findIndex((s) => s.strike === atm));
  return all.slice(Math.max(0, i - state.range), i + state.range + 1);
}

function sideCells(o, right) {
  const cells = {};
  const tds = SIDE.map((name) => {
    const td = document.createElement("td");
    td.className = `${right} c-${name}`;
    cells[name] = td;
    return td;
  });
  if (o) {
    if (o.level && o.level.startsWith("ITM")) tds.forEach((td) => td.classList.add("itm"));
    fillSide(cells, o);
    state.cells.set(o.instrument_key, cells);
  }
  return tds;
}

function fillSide(cells, o) {
  const prev = state.prev.get(o.instrument_key);
  cells.last.textContent = num(o.last);
  cells.bid.textContent = num(o.bid);
  cells.ask.textContent = num(o.ask);
  cells.iv.textContent = o.iv === undefined ? "–" : num(o.iv * 100);
  cells.delta.textContent = o.greeks ? num(o.greeks.delta, 3) : "–";
  cells.oi.textContent = int(o.oi);
  cells.volume.textContent = int(o.volume);
  setChange(cells, o.last, o.oi, prev);
}

function setChange(cells, last, oi, prev) {
  const chg = prev && prev.last !== undefined && last !== undefined ? last - prev.last : null;
  const oichg = prev && prev.oi !== undefined && oi !== undefined ? oi - prev.oi : null;
  cells.chg.textContent = signed(chg, (v) => num(v));
  cells.chg.classList.toggle("up", chg > 0);
  cells.chg.classList.toggle("down", chg < 0);
  cells.oichg.textContent = signed(oichg, int);
  cells.oichg.classList.toggle("up", oichg > 0);
  cells.oichg.classList.toggle("down", oichg < 0);
}

function renderTable(chain) {
  state.cells = new Map();
  const rows = visibleStrikes(chain).map((s) => {
    const tr = document.createElement("tr");
    tr.dataset.strike = s.strike;
    if (s.strike === chain.meta.atm_strike) {
      tr.classList.add("atm");
      tr.setAttribute("aria-current", "true");
    }
    const strike = document.createElement("td");
    strike.className = "strike";
    strike.textContent = num(s.strike, s.strike % 1 ? 2 : 0);
    tr.append(...sideCells(s.call, "call"), strike, ...sideCells(s.put, "put"));
    return tr;
  });
  $("chain").tBodies[0].replaceChildren(...rows);
}

function flash(td, text) {
  if (td.textContent === text) return;
  td.textContent = text;
  td.classList.remove("flash");
  void td.offsetWidth; // restart the animation
  td.classList.add("flash");
}

// ---- charts -----------------------------------------------------------------------------

function chartWidth(id) {
  return Math.max(260, $(id).clientWidth || 300);
}

// A vertical line at `x` on every redraw (the ATM strike, the spot).
function markerPlugin(getX, color) {
  return {
    hooks: {
      draw: (u) => {
        const x = getX();
        if (x === undefined || x === null) return;
        const px = u.valToPos(x, "x", true);
        const { ctx } = u;
        ctx.save();
        ctx.strokeStyle = color;
        ctx.setLineDash([4, 4]);
        ctx.lineWidth = 1.5;
        ctx.beginPath();
        ctx.moveTo(px, u.bbox.top);
        ctx.lineTo(px, u.bbox.top + u.bbox.height);
        ctx.stroke();
        ctx.restore();
      },
    },
  };
}

const AXIS = { stroke: "#8aa2b8", grid: { stroke: "#22384d" }, ticks: { stroke: "#22384d" } };
// Tick labels with as many decimals as their spacing needs.
const decimals = (u, vals, axis, space, incr) => vals.map((v) => (v === null ? "" : v.toFixed(Math.max(0, Math.min(3, -Math.floor(Math.log10(incr)))))));

function upsertChart(id, opts, data) {
  const old = state.charts[id];
  if (old && old.series.length === opts.series.length) {
    old.setData(data);
    old.redraw(false, true);
    return;
  }
  if (old) old.destroy();
  state.charts[id] = new uPlot({ width: chartWidth(id), height: 220, ...opts }, data, $(id));
}

function renderCharts(surface, chain, gex) {
  const e = surface.expiries.find((x) => x.expiry === chain.meta.expiry) || surface.expiries[0];
  const smileSource = state.replayAt
    ? chain.strikes.map((s) => ({
        strike: s.strike,
        call_iv: s.call && s.call.iv,
        put_iv: s.put && s.put.iv,
        otm_iv: s.strike >= chain.meta.forward.value ? s.call && s.call.iv : s.put && s.put.iv,
      }))
    : e.strikes;
  const p = (v) => (v === undefined || v === null ? null : v * 100);
  state.atmStrike = chain.meta.atm_strike;
  upsertChart(
    "smile",
    {
      scales: { x: { time: false } },
      axes: [AXIS, { ...AXIS, label: "IV %", values: decimals, size: 60 }],
      series: [
        { label: "strike" },
        { label: "call", stroke: "#4cc3ff", width: 1.5, points: { show: true, size: 4 } },
        { label: "put", stroke: "#ff8a65", width: 1.5, points: { show: true, size: 4 } },
        { label: "OTM", stroke: "#ffd166", width: 2.5 },
      ],
      plugins: [markerPlugin(() => state.atmStrike, "#ffd166")],
    },
    [smileSource.map((s) => s.strike), smileSource.map((s) => p(s.call_iv)), smileSource.map((s) => p(s.put_iv)), smileSource.map((s) => p(s.otm_iv))],
  );
  const term = surface.term_structure;
  upsertChart(
    "term",
    {
      // At least one IV point of height, so a flat term structure is not magnified into noise.
      scales: { x: { time: false }, y: { range: (u, lo, hi) => (hi - lo < 1 ? [(lo + hi) / 2 - 0.5, (lo + hi) / 2 + 0.5] : [lo, hi]) } },
      axes: [{ ...AXIS, label: "days to expiry" }, { ...AXIS, label: "ATM IV %", values: decimals, size: 60 }],
      series: [{ label: "days" }, { label: "ATM IV", stroke: "#4cc3ff", width: 2, points: { show: true, size: 6 } }],
      plugins: [markerPlugin(() => 30, "#8aa2b8")],
    },
    [term.map((t) => t.t_years * 365), term.map((t) => t.atm_iv * 100)],
  );
  state.gexSpot = gex.gex_spot;
  const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.7, 40] }) : undefined;
  const scale = 1e6;
  upsertChart(
    "gex",
    {
      scales: { x: { time: false } },
      axes: [AXIS, { ...AXIS, label: "millions per 1 %", size: 60 }],
      series: [
        { label: "strike" },
        { label: "calls", stroke: "#4cc3ff", fill: "rgba(76,195,255,0.5)", paths: bars, points: { show: false } },
        { label: "puts", stroke: "#ff8a65", fill: "rgba(255,138,101,0.5)", paths: bars, points: { show: false } },
        { label: "net", stroke: "#ffd166", width: 2, points: { show: true, size: 4 } },
      ],
      plugins: [markerPlugin(() => state.gexSpot, "#5bd69b")],
    },
    [
      gex.strikes.map((s) => s.strike),
      gex.strikes.map((s) => s.call_gex_per_pct_move / scale),
      gex.strikes.map((s) => s.put_gex_per_pct_move / scale),
      gex.strikes.map((s) => s.net_gex_per_pct_move / scale),
    ],
  );
}

window.addEventListener("resize", () => {
  for (const [id, chart] of Object.entries(state.charts)) chart.setSize({ width: chartWidth(id), height: 220 });
});

// ---- WebSocket --------------------------------------------------------------------------

function setConn(conn, text) {
  state.conn = conn;
  document.body.dataset.conn = conn;
  $("conn").textContent = text;
}

// A connection may follow 200 topics (the server's `subscriptions.max_topics` default): the
// chain's, then the options nearest the money first, two topics each.
const MAX_TOPICS = 199;

function topicsFor(chain) {
  const topics = [`chain:${chain.meta.underlying}:${chain.meta.expiry}`];
  const atm = chain.meta.atm_strike ?? chain.meta.forward.value;
  const byDistance = [...visibleStrikes(chain)].sort((a, b) => Math.abs(a.strike - atm) - Math.abs(b.strike - atm));
  for (const s of byDistance) {
    if (topics.length + 4 > MAX_TOPICS) break;
    for (const o of [s.call, s.put]) {
      if (!o) continue;
      topics.push(`greeks:${o.instrument_key}`, `candles:${o.instrument_key}:1m`);
    }
  }
  return topics;
}

function send(msg) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(msg));
}

// Follows the visible chain's topics: unsubscribes what scrolled out, subscribes what came in.
function subscribe() {
  if (!state.chain) return;
  const wanted = topicsFor(state.chain);
  const had = new Set(state.wsTopics);
  const gone = state.wsTopics.filter((t) => !wanted.includes(t));
  const added = wanted.filter((t) => !had.has(t));
  state.wsTopics = wanted;
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return;
  if (gone.length) send({ action: "unsubscribe", id: "page-unsub", topics: gone });
  if (added.length) send({ action: "subscribe", id: "page-sub", topics: added });
}

function connect() {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${API}/subscriptions/websocket`;
  const ws = new WebSocket(url);
  state.ws = ws;
  let resuming = false;
  ws.onopen = () => {
    const resume = {};
    for (const t of state.wsTopics) if (state.positions[t]) resume[t] = state.positions[t];
    resuming = Object.keys(resume).length > 0;
    if (state.wsTopics.length) {
      send({ action: "subscribe", id: resuming ? "page-resume" : "page-sub", topics: state.wsTopics, ...(resuming ? { resume } : {}) });
    }
    state.backoff = 0;
    setConn(state.replayAt ? "replay" : "live", state.replayAt ? "replaying a past minute" : resuming ? "live (resumed)" : "live");
  };
  ws.onmessage = (ev) => {
    const frames = JSON.parse(ev.data);
    for (const f of Array.isArray(frames) ? frames : [frames]) onFrame(f, resuming);
  };
  ws.onclose = (ev) => {
    if (state.ws !== ws) return;
    state.reconnects += 1;
    setConn("reconnecting", "reconnecting…");
    // The server's own hint on shutdown (`reconnect_after_ms=N`), else a growing delay.
    const hinted = /reconnect_after_ms=(\d+)/.exec(ev.reason || "");
    state.backoff = Math.min(10_000, (state.backoff || 250) * 2);
    const delay = hinted ? Number(hinted[1]) : state.backoff * (0.5 + Math.random() / 2);
    setTimeout(connect, delay);
  };
}

function onFrame(f, resuming) {
  if (f.type !== "data") {
    if (f.type === "error") state.errors.push(f);
    return;
  }
  if (f.epoch !== undefined && f.seq) state.positions[f.topic] = { epoch: f.epoch, seq: f.seq };
  if (resuming && f.frame === "update") state.resumedUpdates += 1;
  if (resuming && f.frame !== "update") state.resumeSnapshots += 1;
  const d = f.data;
  if (!d || state.replayAt) return;
  state.liveUpdates += 1;
  if (d.kind === "greeks") {
    const cells = state.cells.get(d.instrument_key);
    if (!cells) return;
    flash(cells.iv, d.iv === undefined || d.iv === null ? "–" : num(d.iv * 100));
    flash(cells.delta, d.greeks ? num(d.greeks.delta, 3) : "–");
  } else if (d.kind === "candle") {
    const cells = state.cells.get(d.instrument_key);
    if (!cells) return;
    flash(cells.last, num(d.close));
    if (d.oi !== undefined && d.oi !== null) flash(cells.oi, int(d.oi));
    setChange(cells, d.close, d.oi ?? undefined, state.prev.get(d.instrument_key));
  } else if (d.kind === "chain" && f.frame === "update") {
    // A new minute's snapshot: read the chain, statistics, surface and exposure again.
    clearTimeout(state.refreshTimer);
    state.refreshTimer = setTimeout(() => readAll().catch(showError), 200);
  }
}

function showError(e) {
  state.errors.push(String(e));
  notice(`Could not read the chain: ${e.message || e}`);
}

// ---- controls ---------------------------------------------------------------------------

async function reload() {
  notice("");
  try {
    await readAll();
  } catch (e) {
    showError(e);
  }
}

$("underlying").addEventListener("change", (e) => {
  state.underlying = e.target.value;
  state.expiry = null;
  history.replaceState(null, "", `?underlying=${enc(state.underlying)}`);
  reload();
});
$("expiry").addEventListener("change", (e) => {
  state.expiry = e.target.value;
  reload();
});
$("range").addEventListener("change", (e) => {
  state.range = Number(e.target.value);
  if (state.chain) {
    renderTable(state.chain);
    subscribe();
  }
});
$("replay").addEventListener("click", () => {
  const v = $("replay-at").value;
  if (!v) {
    notice("Choose the minute to replay (your local time).");
    return;
  }
  state.replayAt = new Date(v).toISOString();
  $("live").disabled = false;
  setConn("replay", "replaying a past minute");
  reload();
});
$("live").addEventListener("click", () => {
  state.replayAt = null;
  $("live").disabled = true;
  setConn(state.ws && state.ws.readyState === WebSocket.OPEN ? "live" : "reconnecting", "live");
  reload();
});
$("controls").addEventListener("submit", (e) => e.preventDefault());

// ---- start ------------------------------------------------------------------------------

async function start() {
  try {
    await loadUnderlyings();
    await readAll();
  } catch (e) {
    showError(e);
  }
  connect();
}

start();
