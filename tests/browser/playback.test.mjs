// Browser playback tests: Debian's chromium driven by playwright-core (never a downloaded browser).
// Each scenario plays one presentation with one player from one host and checks that playback advances
// at least 10 s, that every video rung is fetched and decoded after a forced switch, that a seek into an
// unbuffered region resumes, and that the player reports no error. Screenshots go to $SCREENSHOT_DIR.
//
// Environment: ORIGIN_URL (ssfpack serve), STATIC_URL (plain static server), SCREENSHOT_DIR, PRESENTATION.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const ORIGIN = process.env.ORIGIN_URL;
const STATIC = process.env.STATIC_URL;
const SHOTS = process.env.SCREENSHOT_DIR || 'screenshots';
const NAME = process.env.PRESENTATION || 'clip';
const SEEK_TO = Number(process.env.SEEK_TO || 24);
mkdirSync(SHOTS, { recursive: true });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(page, what, fn, arg, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await page.evaluate(fn, arg);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

// Player adapters, evaluated inside the page.
const players = {
  dashjs: {
    ready: () => !!(window.ssfpack && window.ssfpack.ready && window.ssfpack.representations.length),
    errors: () => (window.ssfpack ? window.ssfpack.errors : ['no player state']),
    rungs: () => window.ssfpack.representations.map((r) => ({ id: r.id, bitrate: r.bandwidth, width: r.width, height: r.height })),
    // Through the page's quality menu, as a viewer would.
    force: (id) => {
      const menu = document.getElementById('quality');
      menu.value = id;
      menu.dispatchEvent(new Event('change'));
    },
    // A short forward buffer, so that the seek target is not buffered yet (dash.js keeps 30 s at top quality).
    setup: () => window.ssfpack.player.updateSettings({
      streaming: { buffer: { bufferTimeDefault: 8, bufferTimeAtTopQuality: 8, bufferTimeAtTopQualityLongForm: 8 } },
    }),
  },
  shaka: {
    ready: () => !!(window.shakaTest && window.shakaTest.ready),
    errors: () => (window.shakaTest ? window.shakaTest.errors : ['no player state']),
    rungs: () => {
      const seen = new Map();
      for (const t of window.shakaTest.player.getVariantTracks()) {
        if (!seen.has(t.height)) seen.set(t.height, { id: t.id, bitrate: t.videoBandwidth, width: t.width, height: t.height });
      }
      return [...seen.values()].sort((a, b) => b.bitrate - a.bitrate);
    },
    setup: () => window.shakaTest.player.configure({ streaming: { bufferingGoal: 8 } }),
    force: (id) => {
      const p = window.shakaTest.player;
      p.configure({ abr: { enabled: false } });
      const t = p.getVariantTracks().find((v) => v.id === id);
      p.selectVariantTrack(t, true);
    },
  },
};

async function scenario(browser, { name, url, player }) {
  const api = players[player];
  const context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
  const page = await context.newPage();
  const fetched = new Map(); // "video@900000" → count of 200 fragment responses
  const httpErrors = [];
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('response', (r) => {
    const u = decodeURIComponent(r.url());
    const m = u.match(/QualityLevels\((\d+)\)\/Fragments\((\w+)=(\d+)\)/);
    if (m) {
      if (r.status() === 200) fetched.set(`${m[2]}@${m[1]}`, (fetched.get(`${m[2]}@${m[1]}`) || 0) + 1);
      else httpErrors.push(`${r.status()} ${u}`);
    }
  });
  const log = [];
  try {
    await page.goto(url, { waitUntil: 'load' });
    await waitFor(page, 'player ready', api.ready);
    await page.evaluate(api.setup);
    await page.evaluate(() => { const v = document.querySelector('video'); v.muted = true; return v.play().catch(() => {}); });
    await waitFor(page, 'playback start', () => document.querySelector('video').currentTime > 0.5);
    const rungs = await page.evaluate(api.rungs);
    if (rungs.length < 2) throw new Error(`expected several rungs, got ${JSON.stringify(rungs)}`);
    // Forced switches, lowest first: each rung must be fetched and decoded at its resolution.
    for (const rung of [...rungs].reverse()) {
      await page.evaluate(api.force, rung.id);
      const frames0 = await page.evaluate(() => document.querySelector('video').getVideoPlaybackQuality().totalVideoFrames);
      await waitFor(page, `rung ${rung.width}x${rung.height} decoded`,
        ({ h, f0 }) => { const v = document.querySelector('video'); return v.videoHeight === h && v.getVideoPlaybackQuality().totalVideoFrames > f0 + 5 && !v.paused; },
        { h: rung.height, f0: frames0 }, 25000);
      if (!fetched.get(`video@${rung.bitrate}`)) throw new Error(`no fragment fetched for video@${rung.bitrate}`);
      log.push(`${rung.width}x${rung.height}@${rung.bitrate} ok`);
    }
    // Playback advances at least 10 s of media time.
    await waitFor(page, 'currentTime ≥ 10.5 s', () => document.querySelector('video').currentTime >= 10.5, null, 30000);
    // Seek into a region that is not buffered; playback must resume there.
    const buffered = await page.evaluate((t) => {
      const b = document.querySelector('video').buffered;
      for (let i = 0; i < b.length; i++) if (b.start(i) <= t && t <= b.end(i)) return true;
      return false;
    }, SEEK_TO);
    if (buffered) throw new Error(`${SEEK_TO} s was already buffered; the seek would prove nothing`);
    await page.evaluate((t) => { document.querySelector('video').currentTime = t; }, SEEK_TO);
    await waitFor(page, 'playback resumed after seek',
      (t) => { const v = document.querySelector('video'); return v.currentTime >= t + 1.5 && !v.seeking && !v.paused; }, SEEK_TO, 20000);
    if (!fetched.get('audio@128000') && ![...fetched.keys()].some((k) => k.startsWith('audio@'))) throw new Error('no audio fragment fetched');
    await sleep(300);
    await page.screenshot({ path: join(SHOTS, `${name}.png`) });
    const errors = await page.evaluate(api.errors);
    const all = [...errors, ...pageErrors, ...httpErrors];
    if (all.length) throw new Error(`player errors: ${all.join(' | ')}`);
    const t = await page.evaluate(() => document.querySelector('video').currentTime.toFixed(1));
    return `${log.join(', ')}; seek to ${SEEK_TO} s resumed (t=${t}); fetched ${[...fetched.entries()].map(([k, v]) => `${k}×${v}`).join(' ')}`;
  } catch (e) {
    await page.screenshot({ path: join(SHOTS, `${name}-failed.png`) }).catch(() => {});
    const errors = await page.evaluate(api.errors).catch(() => []);
    throw new Error(`${e.message}; player errors: ${JSON.stringify(errors)}; page errors: ${pageErrors.join(' | ')}; http: ${httpErrors.slice(0, 5).join(' | ')}`);
  } finally {
    await context.close();
  }
}

async function indexPage(browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await page.goto(`${ORIGIN}/`);
    const links = await page.$$eval('a.play', (as) => as.map((a) => a.getAttribute('href')));
    if (!links.includes(`/${NAME}/${NAME}.ism/player`)) throw new Error(`index links: ${JSON.stringify(links)}`);
    await page.screenshot({ path: join(SHOTS, 'index.png') });
    return `links ${links.join(', ')}`;
  } finally {
    await context.close();
  }
}

// launch() (not a persistent context) gives every run a fresh temporary profile.
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--no-first-run', '--autoplay-policy=no-user-gesture-required'],
});
const originManifest = `${ORIGIN}/${NAME}/${NAME}.ism/Manifest`;
const tests = [
  ['origin index page', () => indexPage(browser)],
  ['dash.js · origin', () => scenario(browser, { name: 'dashjs-origin', player: 'dashjs', url: `${ORIGIN}/${NAME}/${NAME}.ism/player` })],
  ['dash.js · static layout', () => scenario(browser, { name: 'dashjs-static', player: 'dashjs', url: `${STATIC}/${NAME}/${NAME}.html` })],
  ['shaka 4.16 · origin', () => scenario(browser, { name: 'shaka-origin', player: 'shaka', url: `${STATIC}/shaka.html?manifest=${encodeURIComponent(originManifest)}` })],
  ['shaka 4.16 · static layout', () => scenario(browser, { name: 'shaka-static', player: 'shaka', url: `${STATIC}/shaka.html?manifest=${encodeURIComponent(`/${NAME}/Manifest`)}` })],
];
const only = process.env.ONLY;
let passed = 0;
let failed = 0;
for (const [title, run] of tests) {
  if (only && !title.includes(only)) continue;
  const t0 = Date.now();
  try {
    const detail = await run();
    passed++;
    console.log(`ok   ${title} (${((Date.now() - t0) / 1000).toFixed(1)} s): ${detail}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${title} (${((Date.now() - t0) / 1000).toFixed(1)} s): ${e.message}`);
  }
}
await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
