// Browser tests of the live page (`/`): Playwright (playwright-core) driving Debian's chromium
// headless against the real binary on the embedded default (SQLite, simulated market).
//
// The browser reaches the service through a TCP proxy of this script's own, so a test can drop
// every connection (the WebSocket included) the way a network or load-balancer failure would,
// and watch the page reconnect and resume.
//
// Usage: node page.test.mjs [--bin PATH] [--chromium PATH] [--screenshot FILE]
//   --bin         the service binary (default ../../target/release/signal-service)
//   --screenshot  also writes a laptop-width screenshot of the page there (docs/img/page.png)
// Exit code 0 when every check passes; each check prints `ok: …` or `FAILED: …`.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const BIN = path.resolve(opt("--bin", path.join(here, "../../target/release/signal-service")));
const CHROMIUM = opt("--chromium", "/usr/bin/chromium");
const SCREENSHOT = opt("--screenshot", null);

const failures = [];
const ok = (what) => console.log(`ok: ${what}`);
const check = (cond, what, detail = "") => {
  if (cond) ok(what);
  else {
    console.log(`FAILED: ${what}${detail ? ` (${detail})` : ""}`);
    failures.push(what);
  }
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(what, fn, timeoutMs = 30_000, everyMs = 100) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

// A TCP proxy to the service that can drop every connection it carries.
function proxy(targetPort) {
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {});
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return {
    listen: () => new Promise((r) => server.listen(0, "127.0.0.1", () => r(server.address().port))),
    dropAll: () => {
      const n = sockets.size;
      for (const s of sockets) s.destroy();
      return n;
    },
    close: () => server.close(),
  };
}

async function main() {
  const workdir = mkdtempSync(path.join(os.tmpdir(), "page-test-"));
  const profile = mkdtempSync(path.join(os.tmpdir(), "page-test-profile-"));
  const port = await freePort();
  const service = spawn(BIN, ["serve"], {
    cwd: workdir,
    env: { ...process.env, SIGNAL__SERVER__PORT: String(port), SIGNAL__LOG__FORMAT: "json" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let serviceLog = "";
  service.stderr.on("data", (d) => (serviceLog += d));
  const p = proxy(port);
  const proxyPort = await p.listen();
  const base = `http://127.0.0.1:${proxyPort}`;
  let context;
  try {
    await waitFor("the service's readiness", async () => {
      const r = await fetch(`http://127.0.0.1:${port}/api/v2/realtime/chain/NSE:NIFTY`);
      return r.ok;
    }, 60_000, 250);

    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: { width: 1400, height: 1000 },
    });
    const page = context.pages()[0] || (await context.newPage());
    const consoleErrors = [];
    const failedRequests = [];
    const foreign = [];
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    page.on("requestfailed", (r) => failedRequests.push(`${r.url()} ${r.failure()?.errorText}`));
    page.on("response", (r) => {
      if (r.status() >= 400) failedRequests.push(`${r.url()} ${r.status()}`);
    });
    page.on("request", (r) => {
      const u = new URL(r.url());
      if (u.hostname !== "127.0.0.1") foreign.push(r.url());
    });

    // Load: the chain, its ATM row, no errors.
    await page.goto(`${base}/`);
    await waitFor("the chain's rows", async () => (await page.locator("#chain tbody tr").count()) >= 20);
    const rows = await page.locator("#chain tbody tr").count();
    check(rows >= 20, `the chain has ${rows} strikes (at least 20)`);
    const atm = await page.locator("#chain tbody tr.atm").count();
    const atmStrike = await page.locator("#chain tbody tr.atm").getAttribute("data-strike");
    check(atm === 1, `one ATM row is marked (strike ${atmStrike})`);
    const itm = await page.locator("#chain tbody td.itm").count();
    check(itm > 0, `in-the-money cells are shaded (${itm})`);
    const summary = await page.locator("#s-atm-iv").textContent();
    check(/%/.test(summary), `the header shows the ATM IV (${summary})`);
    await waitFor("the live socket", () => page.evaluate(() => window.signalPage.conn === "live"));
    ok("the WebSocket is live");

    // Live: the numbers change within 5 s as the simulated feed ticks.
    const before = await page.locator("#chain tbody").innerText();
    const t0 = Date.now();
    let changed = false;
    while (Date.now() - t0 < 5_000) {
      await sleep(200);
      if ((await page.locator("#chain tbody").innerText()) !== before) {
        changed = true;
        break;
      }
    }
    check(changed, `the chain's numbers changed within 5 s (after ${Date.now() - t0} ms)`);

    // The smile is drawn: its canvas holds coloured pixels.
    const inked = () =>
      page.evaluate((sel) => {
        const c = document.querySelector(`${sel} canvas`);
        if (!c) return 0;
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n += 1;
        return n;
      }, "#smile");
    const smilePixels = await waitFor("the smile's pixels", inked);
    check(smilePixels > 500, `the smile canvas is drawn (${smilePixels} pixels inked)`);
    const fingerprint = () =>
      page.evaluate(() => {
        const c = document.querySelector("#smile canvas");
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let h = 0;
        for (let i = 0; i < d.length; i += 97) h = (h * 31 + d[i]) >>> 0;
        return h;
      });

    // Switching expiry redraws the chain and the smile.
    const expiries = await page.locator("#expiry option").allTextContents();
    check(expiries.length >= 2, `the expiry selector lists ${expiries.length} expiries (${expiries.join(", ")})`);
    if (expiries.length >= 2) {
      const smileBefore = await fingerprint();
      const reads = await page.evaluate(() => window.signalPage.chainReads);
      await page.selectOption("#expiry", expiries[1]);
      await waitFor("the second expiry's chain", () =>
        page.evaluate(
          ([r, e]) => window.signalPage.chainReads > r && window.signalPage.chain.meta.expiry === e,
          [reads, expiries[1]],
        ),
      );
      const asof = await page.locator("#asof").textContent();
      check(asof.includes(expiries[1]), `switching expiry shows ${expiries[1]} (${asof})`);
      const smileAfter = await waitFor("a redrawn smile", async () => {
        const f = await fingerprint();
        return f !== smileBefore ? f : undefined;
      }, 5_000);
      check(smileAfter !== smileBefore, "switching expiry redraws the smile");
      const n = await page.locator("#chain tbody tr").count();
      check(n >= 20, `the second expiry's chain has ${n} strikes`);
    }

    // A dropped connection: the page says so, reconnects and resumes where it was.
    const beforeDrop = await page.evaluate(() => ({ ...window.signalPage, ws: null, charts: null, cells: null, prev: null }));
    const dropped = p.dropAll();
    await waitFor("the page to notice the drop", () =>
      page.evaluate((n) => window.signalPage.reconnects > n, beforeDrop.reconnects), 10_000, 20);
    ok(`the page noticed ${dropped} dropped connections and shows "${await page.locator("#conn").textContent()}"`);
    await waitFor("the socket live again", () => page.evaluate(() => window.signalPage.conn === "live"), 20_000);
    await waitFor("updates after the resume", () =>
      page.evaluate((n) => window.signalPage.liveUpdates > n + 5, beforeDrop.liveUpdates), 10_000);
    const after = await page.evaluate(() => ({
      resumed: window.signalPage.resumedUpdates,
      snapshots: window.signalPage.resumeSnapshots,
      conn: document.querySelector("#conn").textContent,
    }));
    check(
      after.resumed > 0 && after.snapshots === 0,
      `it reconnected and resumed: ${after.resumed} missed updates replayed, ${after.snapshots} snapshots (${after.conn})`,
    );

    // Keyboard: the controls are reachable with Tab.
    await page.locator("body").focus();
    const reached = [];
    for (let i = 0; i < 12; i += 1) {
      await page.keyboard.press("Tab");
      reached.push(await page.evaluate(() => document.activeElement && (document.activeElement.id || document.activeElement.tagName)));
    }
    check(
      ["underlying", "expiry", "range", "replay-at"].every((id) => reached.includes(id)),
      `Tab reaches the controls (${reached.join(", ")})`,
    );

    if (SCREENSHOT) {
      // Still cells (no update flashes) and nothing focused, for a clean picture.
      await page.emulateMedia({ reducedMotion: "reduce" });
      await page.evaluate(() => {
        document.activeElement?.blur();
        window.scrollTo(0, 0);
      });
      await sleep(1_500);
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      ok(`screenshot written to ${SCREENSHOT}`);
    }

    // Phone width: the page body never scrolls sideways (the table scrolls in its own box).
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await waitFor("the chain at phone width", async () => (await page.locator("#chain tbody tr").count()) >= 20);
    await sleep(500);
    const widths = await page.evaluate(() => ({
      doc: document.documentElement.scrollWidth,
      body: document.body.scrollWidth,
      view: window.innerWidth,
    }));
    check(
      widths.doc <= widths.view && widths.body <= widths.view,
      `no horizontal scroll of the page at 390 px (document ${widths.doc}, body ${widths.body}, viewport ${widths.view})`,
    );

    // Replay a past minute through the historical chain.
    // The simulated session starts at its open: wait for its first minute to be stored.
    const firstAsOf = await page.evaluate(() => window.signalPage.chain.meta.as_of);
    const asOf = await waitFor("a second minute", async () => {
      const a = await page.evaluate(() => window.signalPage.chain.meta.as_of);
      return a > firstAsOf ? a : undefined;
    }, 90_000, 500);
    const past = new Date(Date.parse(asOf) - 60_000);
    const local = new Date(past.getTime() - past.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    await page.fill("#replay-at", local);
    await page.click("#replay");
    await waitFor("the replayed chain", () =>
      page.evaluate((a) => window.signalPage.chain.meta.as_of < a, asOf), 10_000);
    const replayRows = await page.locator("#chain tbody tr").count();
    const replayAsOf = await page.evaluate(() => window.signalPage.chain.meta.as_of);
    check(replayRows >= 20, `replaying ${past.toISOString()} shows the chain as of ${replayAsOf} (${replayRows} strikes)`);
    await page.click("#live");
    await waitFor("back to live", () => page.evaluate((a) => window.signalPage.chain.meta.as_of >= a, asOf), 10_000);
    ok("back to live");

    check(consoleErrors.length === 0, "no console errors", consoleErrors.slice(0, 5).join(" | "));
    // Requests cut by the deliberate drop are not failures of the page.
    const realFailures = failedRequests.filter((f) => !/ERR_(CONNECTION_RESET|EMPTY_RESPONSE|CONNECTION_CLOSED|ABORTED)/.test(f));
    check(realFailures.length === 0, "no failed request", realFailures.slice(0, 5).join(" | "));
    check(foreign.length === 0, "no request leaves the service's origin", foreign.slice(0, 5).join(" | "));
  } finally {
    if (context) await context.close();
    p.close();
    service.kill("SIGTERM");
    await new Promise((r) => service.once("exit", r));
    rmSync(workdir, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  }
  if (failures.length) {
    console.log(`page test: FAILED (${failures.length}): ${failures.join("; ")}`);
    if (serviceLog) console.log(serviceLog.split("\n").slice(-20).join("\n"));
    process.exit(1);
  }
  console.log("page test: passed");
}

main().catch((e) => {
  console.log(`FAILED: ${e.stack || e}`);
  process.exit(1);
});
