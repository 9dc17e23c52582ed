// Live browser tests: FFmpeg pushes a generated source into a publishing point of `ssfpack serve`
// (run.sh starts it), and Debian's chromium (playwright-core) plays the point with dash.js through
// ssfpack's player page. Each scenario checks that the stream is detected as live, that playback
// starts and the live edge advances, that frames are decoded, that there is no 412/404 loop, that
// nothing is fetched from another host (dash.js's default clock is time.akamai.com), and, for the
// point's page, that a seek back into the DVR window resumes and "Go live" returns to the edge.
//
// A second point is pushed by `ssfpack push --post-per-track` (one POST per track), played the same way.
//
// Environment: ORIGIN_URL (ssfpack serve), SCREENSHOT_DIR, LIVE_POINT (a point FFmpeg pushes to),
// PUSHED_POINT (a point `ssfpack push` pushes to), IDLE_POINT (a point nobody pushes to).
// Closing line: "N passed, M failed".
import { launchBrowser, runTests, sleep, waitFor as waitForPage } from './harness.mjs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const ORIGIN = process.env.ORIGIN_URL;
const SHOTS = process.env.SCREENSHOT_DIR || 'screenshots';
const LIVE = process.env.LIVE_POINT || 'live';
const IDLE = process.env.IDLE_POINT || 'idle';
const PUSHED = process.env.PUSHED_POINT || 'pushed';
// Most 412 (not yet available) answers a scenario may see: dash.js may ask once or twice too early.
const MAX_412 = 3;
mkdirSync(SHOTS, { recursive: true });


const waitFor = (page, what, fn, arg, timeoutMs) =>
  waitForPage(page, what, fn, arg, timeoutMs, { describe: (p) => p.evaluate(snapshot) });

// The player state as the page exposes it (evaluated inside the page).
function snapshot() {
  const v = document.querySelector('video');
  const s = window.ssfpack;
  const p = s && s.player;
  const ready = !!(s && s.ready);
  const w = ready ? p.getDvrWindow() : null;
  return {
    t: v.currentTime,
    paused: v.paused,
    seeking: v.seeking,
    frames: v.getVideoPlaybackQuality().totalVideoFrames,
    ready,
    dynamic: ready ? p.isDynamic() : null,
    live: s ? s.live : null,
    liveState: s ? s.liveState : null,
    point: s ? s.point : null,
    badge: !document.getElementById('live').hidden,
    dvr: w ? { start: w.start, end: w.end } : null,
    target: ready ? p.getTargetLiveDelay() : null,
    status: document.getElementById('status').textContent,
    errors: s ? s.errors : ['no player state'],
  };
}

// A page whose requests are all recorded: offsite ones, and fragment answers by status.
async function openPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 760 } });
  const page = await context.newPage();
  const rec = { offsite: [], time: 0, fragments: new Map(), bad: [], pageErrors: [] };
  page.on('pageerror', (e) => rec.pageErrors.push(String(e)));
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(`${ORIGIN}/`)) rec.offsite.push(u);
    else if (u.startsWith(`${ORIGIN}/_player/time`)) rec.time++;
  });
  page.on('requestfailed', (r) => {
    if (!r.url().startsWith(`${ORIGIN}/`)) rec.offsite.push(`${r.url()} (${r.failure() && r.failure().errorText})`);
  });
  page.on('response', (r) => {
    const u = decodeURIComponent(r.url());
    if (/QualityLevels\(\d+\)\/Fragment(s|Info)\(/.test(u)) {
      rec.fragments.set(r.status(), (rec.fragments.get(r.status()) || 0) + 1);
      if (r.status() !== 200) rec.bad.push(`${r.status()} ${u.slice(ORIGIN.length)}`);
    }
  });
  return { context, page, rec };
}

// What must hold after any live scenario: no player or page error, no offsite request (the clock
// came from the origin), no 404 and at most a few 412.
function checkRecord(rec, errors) {
  const problems = [...errors, ...rec.pageErrors];
  if (rec.offsite.length) problems.push(`offsite requests: ${rec.offsite.join(', ')}`);
  if (!rec.time) problems.push('dash.js never asked the origin for the time (/_player/time)');
  const n412 = rec.fragments.get(412) || 0;
  const other = rec.bad.filter((b) => !b.startsWith('412 '));
  if (n412 > MAX_412) problems.push(`${n412} fragment requests answered 412 (a loop?): ${rec.bad.slice(0, 5).join(' | ')}`);
  if (other.length) problems.push(`fragment requests not 200: ${other.slice(0, 5).join(' | ')}`);
  if (problems.length) throw new Error(problems.join(' | '));
  return `fragments ${[...rec.fragments.entries()].map(([k, v]) => `${k}×${v}`).join(' ')}, time syncs ${rec.time}`;
}

// Waits until the point's live manifest lists at least `secs` s of video (so that a seek back to
// the start of the DVR window lands outside what the player buffered from the edge).
async function waitForEvent(secs, timeoutMs = 60000, point = LIVE) {
  const end = Date.now() + timeoutMs;
  let listed = 0;
  for (;;) {
    const r = await fetch(`${ORIGIN}/${point}.isml/Manifest`, { cache: 'no-store' }).catch(() => null);
    if (r && r.ok) {
      const xml = await r.text();
      const video = xml.split('<StreamIndex').find((x) => /Type="video"/.test(x)) || '';
      let t = 0;
      let first = null;
      for (const c of video.matchAll(/<c\b([^>]*)\/?>/g)) {
        const attr = (n) => { const m = c[1].match(new RegExp(`\\b${n}="(\\d+)"`)); return m ? Number(m[1]) : null; };
        if (attr('t') !== null) t = attr('t');
        if (first === null) first = t;
        t += (attr('d') || 0) * (attr('r') || 1);
      }
      listed = first === null ? 0 : (t - first) / 1e7;
      if (!/IsLive="TRUE"/i.test(xml)) throw new Error('the point\'s manifest is not live (did the push end?)');
      if (listed >= secs) return listed;
    }
    if (Date.now() > end) throw new Error(`the point listed only ${listed} s after ${timeoutMs / 1000} s`);
    await sleep(500);
  }
}

// Plays `url` until the live edge and the playhead have advanced `advance` s; returns the snapshot.
async function playLive(page, url, advance) {
  await page.goto(url, { waitUntil: 'load' });
  await waitFor(page, 'player ready', () => !!(window.ssfpack && window.ssfpack.ready), null, 40000);
  const s0 = await page.evaluate(snapshot);
  if (!s0.dynamic || !s0.live) throw new Error(`not detected as live: ${JSON.stringify(s0)}`);
  if (!s0.badge) throw new Error('the page does not show LIVE');
  await page.evaluate(() => { const v = document.querySelector('video'); v.muted = true; return v.play().catch(() => {}); });
  await waitFor(page, 'playback start', () => {
    const v = document.querySelector('video');
    return v.currentTime > 0.5 && !v.paused && v.getVideoPlaybackQuality().totalVideoFrames > 0;
  }, null, 20000);
  const a = await page.evaluate(snapshot);
  await waitFor(page, `playhead and live edge advancing ${advance} s`, ({ t, end, d }) => {
    const v = document.querySelector('video');
    const w = window.ssfpack.player.getDvrWindow();
    return v.currentTime >= t + d && w.end >= end + d;
  }, { t: a.t, end: a.dvr.end, d: advance }, (advance + 15) * 1000);
  const b = await page.evaluate(snapshot);
  // 25 frames/s: at least two thirds of them must have been decoded.
  if (b.frames < a.frames + advance * 25 * 0.66) throw new Error(`only ${b.frames - a.frames} frames decoded in ${advance} s`);
  if (b.liveState !== 'live edge') throw new Error(`expected to be at the live edge: ${JSON.stringify(b)}`);
  return { a, b };
}

async function pointPage(browser) {
  const listed = await waitForEvent(20);
  const { context, page, rec } = await openPage(browser);
  try {
    const { a, b } = await playLive(page, `${ORIGIN}/${LIVE}.isml/player`, 6);
    // Seek back into the DVR window, through the page's DVR bar, to a part that is not buffered.
    const target = b.dvr.start + 2;
    const buffered = await page.evaluate((t) => {
      const r = document.querySelector('video').buffered;
      for (let i = 0; i < r.length; i++) if (r.start(i) <= t && t <= r.end(i)) return true;
      return false;
    }, target);
    if (buffered) throw new Error(`${target} s was already buffered; the seek would prove nothing`);
    await page.evaluate((t) => {
      const bar = document.getElementById('dvr');
      bar.value = String(t);
      bar.dispatchEvent(new Event('change'));
    }, target);
    await waitFor(page, `playback resumed at ${target.toFixed(1)} s`, (t) => {
      const v = document.querySelector('video');
      return v.currentTime >= t + 1.5 && v.currentTime < t + 8 && !v.seeking && !v.paused &&
        window.ssfpack.liveState === 'behind';
    }, target, 20000);
    const c = await page.evaluate(snapshot);
    await page.screenshot({ path: join(SHOTS, 'live-dvr.png') });
    await page.click('#go-live');
    await waitFor(page, 'back at the live edge', () => window.ssfpack.liveState === 'live edge' &&
      document.querySelector('video').currentTime > window.ssfpack.player.getDvrWindow().end - 14, null, 20000);
    await waitFor(page, 'playing at the live edge', (t) => document.querySelector('video').currentTime > t + 1, (await page.evaluate(snapshot)).t, 10000);
    const d = await page.evaluate(snapshot);
    await page.screenshot({ path: join(SHOTS, 'live-point.png') });
    const net = checkRecord(rec, d.errors);
    return `${listed.toFixed(0)} s listed; live at t=${a.t.toFixed(1)} (edge ${a.dvr.end.toFixed(1)}) → t=${b.t.toFixed(1)} (edge ${b.dvr.end.toFixed(1)}), ` +
      `${b.frames - a.frames} frames; DVR seek to ${target.toFixed(1)} resumed (t=${c.t.toFixed(1)}, "${c.liveState}"); ` +
      `go live → t=${d.t.toFixed(1)} (edge ${d.dvr.end.toFixed(1)}, target delay ${d.target}); ${net}`;
  } catch (e) {
    await page.screenshot({ path: join(SHOTS, 'live-point-failed.png') }).catch(() => {});
    throw new Error(`${e.message}; http: ${rec.bad.slice(0, 5).join(' | ')}; offsite: ${rec.offsite.join(' ')}`);
  } finally {
    await context.close();
  }
}

// `NAME.html` is not a file: the origin serves the point's page there.
async function htmlPage(browser) {
  const { context, page, rec } = await openPage(browser);
  try {
    const { a, b } = await playLive(page, `${ORIGIN}/${LIVE}.html`, 3);
    await page.screenshot({ path: join(SHOTS, 'live-html.png') });
    return `t=${a.t.toFixed(1)} → ${b.t.toFixed(1)}, ${b.frames - a.frames} frames; ${checkRecord(rec, b.errors)}`;
  } catch (e) {
    await page.screenshot({ path: join(SHOTS, 'live-html-failed.png') }).catch(() => {});
    throw new Error(`${e.message}; http: ${rec.bad.slice(0, 5).join(' | ')}; offsite: ${rec.offsite.join(' ')}`);
  } finally {
    await context.close();
  }
}

// `ssfpack push --post-per-track` (run.sh: two rungs and the audio, each on its own POST): the point
// joins the three streams into one event, which dash.js plays live, fetching every track.
async function pushedPage(browser) {
  const listed = await waitForEvent(6, 90000, PUSHED);
  const manifest = await (await fetch(`${ORIGIN}/${PUSHED}.isml/Manifest`, { cache: 'no-store' })).text();
  const levels = (type) => ((manifest.split('<StreamIndex').find((x) => new RegExp(`Type="${type}"`).test(x)) || '')
    .match(/<QualityLevel\b/g) || []).length;
  if (levels('video') !== 2 || levels('audio') !== 1) {
    throw new Error(`expected 2 video levels and 1 audio level from three POSTs: ${manifest.slice(0, 600)}`);
  }
  const { context, page, rec } = await openPage(browser);
  const tracks = new Set();
  page.on('response', (r) => {
    const m = decodeURIComponent(r.url()).match(/QualityLevels\((\d+)\)\/Fragments\((\w+)=/);
    if (m && r.status() === 200) tracks.add(`${m[2]}@${m[1]}`);
  });
  try {
    const { a, b } = await playLive(page, `${ORIGIN}/${PUSHED}.isml/player`, 4);
    if (![...tracks].some((t) => t.startsWith('audio@'))) throw new Error(`no audio fragment fetched: ${[...tracks]}`);
    await page.screenshot({ path: join(SHOTS, 'live-pushed.png') });
    return `${listed.toFixed(0)} s listed, 2 video + 1 audio levels; t=${a.t.toFixed(1)} → ${b.t.toFixed(1)}, ` +
      `${b.frames - a.frames} frames; fetched ${[...tracks].sort().join(' ')}; ${checkRecord(rec, b.errors)}`;
  } catch (e) {
    await page.screenshot({ path: join(SHOTS, 'live-pushed-failed.png') }).catch(() => {});
    throw new Error(`${e.message}; http: ${rec.bad.slice(0, 5).join(' | ')}; offsite: ${rec.offsite.join(' ')}`);
  } finally {
    await context.close();
  }
}

// A point nobody pushes to: the page waits for the encoder, with no error.
async function idlePage(browser) {
  const { context, page, rec } = await openPage(browser);
  try {
    await page.goto(`${ORIGIN}/${IDLE}.isml/player`, { waitUntil: 'load' });
    await waitFor(page, 'the page waiting for the encoder',
      () => document.getElementById('status').textContent.includes('waiting for the encoder (point idle)'), null, 10000);
    await sleep(500);
    const s = await page.evaluate(snapshot);
    if (s.errors.length || rec.pageErrors.length || s.ready) throw new Error(`idle page: ${JSON.stringify(s)} ${rec.pageErrors}`);
    if (rec.offsite.length) throw new Error(`offsite requests: ${rec.offsite.join(', ')}`);
    return `"${s.status}"`;
  } finally {
    await context.close();
  }
}

// The index page lists the points with their state.
async function indexPage(browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    const states = async () => {
      await page.goto(`${ORIGIN}/`);
      return page.$$eval('li.point', (lis) => Object.fromEntries(lis.map((li) => [li.querySelector('a.play').getAttribute('href'), li.dataset.state])));
    };
    let seen = await states();
    const end = Date.now() + 15000;
    while (seen[`/${LIVE}.isml/player`] !== 'live' && Date.now() < end) {
      await sleep(500);
      seen = await states();
    }
    const want = { [`/${LIVE}.isml/player`]: 'live', [`/${IDLE}.isml/player`]: 'idle' };
    for (const [href, st] of Object.entries(want)) {
      if (seen[href] !== st) throw new Error(`index points: ${JSON.stringify(seen)}; expected ${href} ${st}`);
    }
    await page.screenshot({ path: join(SHOTS, 'index-live.png') });
    return `points ${JSON.stringify(seen)}`;
  } finally {
    await context.close();
  }
}

const browser = await launchBrowser();
const tests = [
  ['live · index page lists points with their state', () => indexPage(browser)],
  ['live · idle point page waits for the encoder', () => idlePage(browser)],
  ['live · dash.js · NAME.isml/player (live edge, DVR seek, go live)', () => pointPage(browser)],
  ['live · dash.js · NAME.html', () => htmlPage(browser)],
  ['live · dash.js · ssfpack push --post-per-track', () => pushedPage(browser)],
];
await runTests(browser, tests);
