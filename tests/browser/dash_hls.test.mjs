// DASH and HLS from the same .ismv files: dash.js 5 and Shaka Player 5 play the MPD, hls.js and
// Shaka 5 play the fMP4 HLS (m3u8-cmaf), each from `ssfpack serve` (Azure-style URLs) and from the
// static layout (`--layout dash,hls`) on a plain static server; hls.js plays the MPEG-TS HLS
// (m3u8-aapl) from the origin and from the `--layout hls-ts` files, and so does Shaka 5 with its own
// TS transmuxer (lib/transmuxer; Shaka 5 has no mux.js plug-in, and its MediaSource polyfill hides
// Chromium's native video/mp2t): for these the SourceBuffers the player opens must be MP4 ones,
// never video/mp2t. Each scenario: playback starts,
// every video level is forced in turn and must be fetched and decoded at its height (frames counted
// with getVideoPlaybackQuality: a player that rejected the video would play audio alone), audio
// segments are fetched, playback advances, a seek into an unbuffered region resumes, no errors.
//
// Environment: ORIGIN_URL, STATIC_URL, SCREENSHOT_DIR, DH_PRESENTATION (folder and name, e.g. dh).
import { launchBrowser, runTests, sleep, waitFor } from './harness.mjs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const ORIGIN = process.env.ORIGIN_URL;
const STATIC = process.env.STATIC_URL;
const SHOTS = process.env.SCREENSHOT_DIR || 'screenshots';
const NAME = process.env.DH_PRESENTATION || 'dh';
const SEEK_TO = 12;
mkdirSync(SHOTS, { recursive: true });



// "video@400000" from a segment URL of either host (null for anything else, init segments included).
function segmentKey(u) {
  let m = u.match(/QualityLevels\((\d+)\)\/Fragments\((\w+)=(\d+),format=[\w-]+\)/);
  if (m) return `${m[2]}@${m[1]}`;
  m = u.match(/(?:cmaf|ts)\/(\w+)_(\d+)\/\d+\.(?:m4s|ts)/);
  return m ? `${m[1]}@${m[2]}` : null;
}

async function scenario(browser, { name, player, manifest }) {
  const context = await browser.newContext({ viewport: { width: 800, height: 600 } });
  const page = await context.newPage();
  const fetched = new Map();
  const httpErrors = [];
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('response', (r) => {
    const u = decodeURIComponent(r.url());
    const key = segmentKey(u);
    if (!key && !/Fragments\(\w+=i,|init\.mp4|Manifest\(|\.m3u8|\.mpd/.test(u)) return;
    if (r.status() !== 200) httpErrors.push(`${r.status()} ${u}`);
    else if (key) fetched.set(key, (fetched.get(key) || 0) + 1);
  });
  // The MIME type of every SourceBuffer the player opens (what it appends: MP4, or TS as is).
  await page.addInitScript(() => {
    window.sourceBufferTypes = [];
    const add = MediaSource.prototype.addSourceBuffer;
    MediaSource.prototype.addSourceBuffer = function (type) { window.sourceBufferTypes.push(type); return add.call(this, type); };
  });
  const log = [];
  try {
    await page.goto(`${STATIC}/players.html?player=${player}&manifest=${encodeURIComponent(manifest)}`, { waitUntil: 'load' });
    await waitFor(page, 'player ready', () => window.playerTest.ready || window.playerTest.errors.length);
    await page.evaluate(() => window.playerTest.setup());
    await page.evaluate(() => { const v = document.querySelector('video'); v.muted = true; return v.play().catch(() => {}); });
    await waitFor(page, 'playback start', () => document.querySelector('video').currentTime > 0.3);
    let transmux = '';
    if (/format=m3u8-aapl|-ts\.m3u8$/.test(manifest)) {
      const types = await page.evaluate(() => window.sourceBufferTypes);
      if (!types.length || types.some((t) => /mp2t/.test(t))) throw new Error(`TS not transmuxed by the player: SourceBuffers ${JSON.stringify(types)}`);
      transmux = `; TS transmuxed into SourceBuffers ${types.join(', ')}`;
    }
    const levels = await page.evaluate(() => window.playerTest.levels());
    if (levels.length < 2) throw new Error(`expected 2 video levels, got ${JSON.stringify(levels)}`);
    const seen = new Set();
    for (const level of [...levels].sort((a, b) => a.bitrate - b.bitrate)) {
      const f0 = await page.evaluate(() => document.querySelector('video').getVideoPlaybackQuality().totalVideoFrames);
      const before = new Map(fetched);
      await page.evaluate((id) => window.playerTest.force(id), level.id);
      await waitFor(page, `level ${level.height}p decoded`,
        ({ h, f0 }) => { const v = document.querySelector('video'); return v.videoHeight === h && v.getVideoPlaybackQuality().totalVideoFrames > f0 + 10 && !v.paused; },
        { h: level.height, f0 }, 25000);
      // DASH levels carry the video bitrate; HLS variants a measured BANDWIDTH (video + audio
      // segment bit rates), so there the level's rung is the one whose segments it fetched.
      const grown = [...fetched.keys()].filter((k) => k.startsWith('video@') && fetched.get(k) > (before.get(k) || 0));
      // (A player that had buffered this rung before it was forced may fetch none of it now: then a
      // rung fetched at some point and not yet counted, its height decoded above.)
      const fallback = (keys) => keys.find((k) => k.startsWith('video@') && !seen.has(k));
      const key = grown.find((k) => Number(k.split('@')[1]) === level.bitrate) ||
        (/m3u8/.test(manifest) ? fallback(grown) || fallback([...fetched.keys()]) : undefined);
      if (key) seen.add(key);
      if (!key) throw new Error(`no segment fetched for the ${level.height}p level (${level.bitrate}); fetched ${[...fetched.keys()]}`);
      const frames = await page.evaluate(() => document.querySelector('video').getVideoPlaybackQuality().totalVideoFrames);
      log.push(`${level.height}p ${frames - f0} frames`);
    }
    await waitFor(page, 'currentTime ≥ 4.5 s', () => document.querySelector('video').currentTime >= 4.5, null, 20000);
    const buffered = await page.evaluate((t) => {
      const b = document.querySelector('video').buffered;
      for (let i = 0; i < b.length; i++) if (b.start(i) <= t && t <= b.end(i)) return true;
      return false;
    }, SEEK_TO);
    if (buffered) throw new Error(`${SEEK_TO} s was already buffered; the seek would prove nothing`);
    await page.evaluate((t) => { document.querySelector('video').currentTime = t; }, SEEK_TO);
    await waitFor(page, 'playback resumed after the seek',
      (t) => { const v = document.querySelector('video'); return v.currentTime >= t + 1.5 && !v.seeking && !v.paused; }, SEEK_TO, 20000);
    if (![...fetched.keys()].some((k) => k.startsWith('audio'))) throw new Error(`no audio segment fetched: ${[...fetched.keys()]}`);
    await page.screenshot({ path: join(SHOTS, `${name}.png`) });
    const all = [...(await page.evaluate(() => window.playerTest.errors)), ...pageErrors, ...httpErrors];
    if (all.length) throw new Error(`errors: ${all.join(' | ')}`);
    const t = await page.evaluate(() => document.querySelector('video').currentTime.toFixed(1));
    return `${log.join(', ')}; seek to ${SEEK_TO} s resumed (t=${t})${transmux}; segments ${[...fetched.entries()].map(([k, v]) => `${k}×${v}`).join(' ')}`;
  } catch (e) {
    await page.screenshot({ path: join(SHOTS, `${name}-failed.png`) }).catch(() => {});
    const errors = await page.evaluate(() => window.playerTest && window.playerTest.errors).catch(() => []);
    throw new Error(`${e.message}; player: ${JSON.stringify(errors)}; page: ${pageErrors.join(' | ')}; http: ${httpErrors.slice(0, 5).join(' | ')}`);
  } finally {
    await context.close();
  }
}

// The NAME.html ssfpack writes into a folder without a Smooth manifest, on the plain static server:
// `--layout dash,hls` plays NAME.mpd with dash.js (every rendition chosen in the page's quality menu
// and decoded at its height, a seek); `split --layout hls` (HLS alone) plays NAME.m3u8 and
// `split --layout hls-ts` NAME-ts.m3u8 (MPEG-TS) with the browser's own HLS. No request may fail (the favicon included: the page names none to fetch) but
// the page's question to ssfpack serve.
async function pageScenario(browser, { name, folder, kind, file }) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
  const page = await context.newPage();
  const fetched = new Map();
  const httpErrors = [];
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('response', (r) => {
    const u = decodeURIComponent(r.url());
    // The page asks every host for ssfpack serve's /_player/config.json; a static host has none.
    if (r.status() >= 400 && !u.endsWith('/_player/config.json')) httpErrors.push(`${r.status()} ${u}`);
    const key = segmentKey(u);
    if (key) fetched.set(key, (fetched.get(key) || 0) + 1);
  });
  const frames = () => page.evaluate(() => document.querySelector('video').getVideoPlaybackQuality().totalVideoFrames);
  try {
    await page.goto(`${STATIC}/${folder}/${NAME}.html`, { waitUntil: 'load' });
    await waitFor(page, 'page ready', () => (window.ssfpack.ready || window.ssfpack.errors.length) && window.ssfpack);
    const st = await page.evaluate(() => ({ kind: window.ssfpack.kind, manifest: window.ssfpack.manifest, errors: window.ssfpack.errors,
      label: (document.getElementById('manifest-kind') || {}).textContent }));
    if (st.errors.length) throw new Error(`page errors: ${st.errors.join(' | ')}`);
    if (st.kind !== kind || !st.manifest.endsWith(`/${folder}/${file}`)) {
      throw new Error(`the page plays ${st.kind} ${st.manifest}`);
    }
    await page.evaluate(() => { const v = document.querySelector('video'); v.muted = true; return v.play().catch(() => {}); });
    await waitFor(page, 'playback start', () => document.querySelector('video').currentTime > 0.3);
    const log = [];
    if (kind === 'dash') {
      const reps = await page.evaluate(() => window.ssfpack.representations);
      if (reps.length < 2) throw new Error(`expected 2 renditions in the quality menu, got ${JSON.stringify(reps)}`);
      for (const r of [...reps].sort((a, b) => a.bandwidth - b.bandwidth)) {
        const f0 = await frames();
        await page.evaluate((id) => window.ssfpack.select(id), r.id);
        await waitFor(page, `${r.height}p decoded`,
          ({ h, f0 }) => { const v = document.querySelector('video'); return v.videoHeight === h && v.getVideoPlaybackQuality().totalVideoFrames > f0 + 10 && !v.paused; },
          { h: r.height, f0 }, 25000);
        if (!fetched.has(`video@${r.bandwidth}`)) throw new Error(`no segment of ${r.bandwidth} fetched: ${[...fetched.keys()]}`);
        log.push(`${r.height}p ${(await frames()) - f0} frames`);
      }
    } else {
      const f0 = await frames();
      await waitFor(page, 'frames decoded', (f0) => document.querySelector('video').getVideoPlaybackQuality().totalVideoFrames > f0 + 25, f0);
      log.push(`${await page.evaluate(() => document.querySelector('video').videoHeight)}p ${(await frames()) - f0} frames`);
    }
    await page.evaluate((t) => { document.querySelector('video').currentTime = t; }, SEEK_TO);
    await waitFor(page, 'playback resumed after the seek',
      (t) => { const v = document.querySelector('video'); return v.currentTime >= t + 1.5 && !v.seeking && !v.paused; }, SEEK_TO, 20000);
    if (![...fetched.keys()].some((k) => k.startsWith('audio'))) throw new Error(`no audio segment fetched: ${[...fetched.keys()]}`);
    await page.screenshot({ path: join(SHOTS, `${name}.png`) });
    const all = [...(await page.evaluate(() => window.ssfpack.errors)), ...pageErrors, ...httpErrors];
    if (all.length) throw new Error(`errors: ${all.join(' | ')}`);
    const t = await page.evaluate(() => document.querySelector('video').currentTime.toFixed(1));
    return `${st.label} ${st.manifest.replace(STATIC, '')}; ${log.join(', ')}; seek to ${SEEK_TO} s resumed (t=${t}); segments ${[...fetched.entries()].map(([k, v]) => `${k}×${v}`).join(' ')}`;
  } catch (e) {
    await page.screenshot({ path: join(SHOTS, `${name}-failed.png`) }).catch(() => {});
    throw new Error(`${e.message}; page: ${pageErrors.join(' | ')}; http: ${httpErrors.slice(0, 5).join(' | ')}`);
  } finally {
    await context.close();
  }
}

const browser = await launchBrowser();
const ism = `${ORIGIN}/${NAME}/${NAME}.ism`;
const site = `${STATIC}/${NAME}`;
const tests = [];
for (const [host, mpd, m3u8] of [
  ['origin', `${ism}/Manifest(format=mpd-time-csf)`, `${ism}/Manifest(format=m3u8-cmaf).m3u8`],
  ['static', `${site}/${NAME}.mpd`, `${site}/${NAME}.m3u8`],
]) {
  tests.push([`dash.js 5 · MPD · ${host}`, () => scenario(browser, { name: `dh-dashjs-${host}`, player: 'dashjs', manifest: mpd })]);
  tests.push([`shaka 5 · MPD · ${host}`, () => scenario(browser, { name: `dh-shaka5-mpd-${host}`, player: 'shaka5', manifest: mpd })]);
  tests.push([`hls.js · m3u8-cmaf · ${host}`, () => scenario(browser, { name: `dh-hlsjs-${host}`, player: 'hlsjs', manifest: m3u8 })]);
  tests.push([`shaka 5 · m3u8-cmaf · ${host}`, () => scenario(browser, { name: `dh-shaka5-hls-${host}`, player: 'shaka5', manifest: m3u8 })]);
}
// MPEG-TS segments (m3u8-aapl, HLS v4) from the origin: hls.js and Shaka 5 (lib/transmuxer) transmux them.
tests.push(['hls.js · m3u8-aapl · origin', () => scenario(browser, { name: 'dh-hlsjs-aapl-origin', player: 'hlsjs', manifest: `${ism}/Manifest(format=m3u8-aapl).m3u8` })]);
tests.push(['shaka 5 · m3u8-aapl · origin', () => scenario(browser, { name: 'dh-shaka5-aapl-origin', player: 'shaka5', manifest: `${ism}/Manifest(format=m3u8-aapl).m3u8` })]);
// The same from the static `--layout hls-ts` files (`NAME-ts.m3u8`, `ts/`).
tests.push(['hls.js · m3u8-aapl · static', () => scenario(browser, { name: 'dh-hlsjs-aapl-static', player: 'hlsjs', manifest: `${site}/${NAME}-ts.m3u8` })]);
tests.push(['shaka 5 · m3u8-aapl · static', () => scenario(browser, { name: 'dh-shaka5-aapl-static', player: 'shaka5', manifest: `${site}/${NAME}-ts.m3u8` })]);
tests.push(['NAME.html of --layout dash,hls · static', () => pageScenario(browser, { name: 'dh-page-dash-hls', folder: `${NAME}-page`, kind: 'dash', file: `${NAME}.mpd` })]);
tests.push(['NAME.html of split --layout hls · static', () => pageScenario(browser, { name: 'dh-page-hls', folder: `${NAME}-page-hls`, kind: 'hls', file: `${NAME}.m3u8` })]);
tests.push(['NAME.html of split --layout hls-ts · static', () => pageScenario(browser, { name: 'dh-page-hls-ts', folder: `${NAME}-page-ts`, kind: 'hls', file: `${NAME}-ts.m3u8` })]);
await runTests(browser, tests);
