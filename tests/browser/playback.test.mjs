// Browser playback tests: Debian's chromium driven by playwright-core (never a downloaded browser).
// Each scenario plays one presentation with one player from one host and checks that playback advances
// at least 10 s, that every video rung is fetched and decoded after a forced switch, that a seek into an
// unbuffered region resumes, and that the player reports no error. Screenshots go to $SCREENSHOT_DIR.
//
// Environment: ORIGIN_URL (ssfpack serve), STATIC_URL (plain static server), SCREENSHOT_DIR, PRESENTATION.
import { launchBrowser, runTests, sleep, waitFor } from './harness.mjs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const ORIGIN = process.env.ORIGIN_URL;
const STATIC = process.env.STATIC_URL;
const SHOTS = process.env.SCREENSHOT_DIR || 'screenshots';
const NAME = process.env.PRESENTATION || 'clip';
const SEEK_TO = Number(process.env.SEEK_TO || 24);
mkdirSync(SHOTS, { recursive: true });



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
    // Nothing the page hides is drawn (a `display` rule must not override `hidden`).
    const shown = await page.evaluate(() => [...document.querySelectorAll('[hidden]')]
      .filter((el) => getComputedStyle(el).display !== 'none').map((el) => el.id || el.tagName));
    if (shown.length) throw new Error(`hidden elements drawn: ${shown.join(', ')}`);
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

// A context where the dash.js CDN is unreachable, as offline.
async function offlineContext(browser) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
  await context.route(/^https:\/\/cdn\.jsdelivr\.net\//, (route) => route.abort('internetdisconnected'));
  return context;
}

const playerReady = () => !!(window.ssfpack && window.ssfpack.ready && window.ssfpack.representations.length);

// NAME.html as written (dash.js from the CDN), served by ssfpack serve: plays offline with the
// server's own dash.js.
async function writtenPageUsesServerScripts(browser) {
  const context = await offlineContext(browser);
  try {
    const page = await context.newPage();
    await page.goto(`${ORIGIN}/${NAME}/${NAME}.html`);
    await waitFor(page, 'player ready with the CDN unreachable', playerReady);
    const base = await page.evaluate(() => document.getElementById('js-base').textContent);
    if (!base.startsWith('/_player/dashjs/')) throw new Error(`dash.js from ${base}`);
    return `dash.js from ${base}`;
  } finally {
    await context.close();
  }
}

// The same page on a plain static host, offline: the message says how to fix it.
async function offlineMessage(browser) {
  const context = await offlineContext(browser);
  try {
    const page = await context.newPage();
    await page.goto(`${STATIC}/${NAME}/cdn.html`);
    const text = await waitFor(page, 'an error shown', () => {
      const e = document.getElementById('error');
      return !e.hidden && e.textContent;
    });
    for (const hint of ['--player-js-dir', '--player-js-base', 'dash.all.min.js']) {
      if (!text.includes(hint)) throw new Error(`message lacks ${hint}: ${text}`);
    }
    const status = await page.evaluate(() => document.getElementById('status').textContent);
    if (status !== 'failed') throw new Error(`status ${status}`);
    return text.slice(0, 80) + '…';
  } finally {
    await context.close();
  }
}

// /_player/ takes any manifest URL (?manifest=, or typed into its form); the title follows it.
async function genericPlayer(browser) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
  try {
    const page = await context.newPage();
    await page.goto(`${ORIGIN}/_player/`);
    if (await page.$eval('#open', (f) => f.hidden)) throw new Error('no manifest form without ?manifest=');
    await page.fill('#open input[name=manifest]', `${ORIGIN}/${NAME}/${NAME}.ism/Manifest`);
    await Promise.all([page.waitForNavigation(), page.click('#open button')]);
    await waitFor(page, 'player ready', playerReady);
    const title = await page.title();
    if (title !== NAME) throw new Error(`title ${JSON.stringify(title)}`);
    if (!new URL(page.url()).searchParams.get('manifest')) throw new Error(`url ${page.url()}`);
    return `title ${title}`;
  } finally {
    await context.close();
  }
}

// The index lists the pre-split copy with its duration and rungs, and its link plays it.
async function indexListsStaticLayouts(browser) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
  try {
    const page = await context.newPage();
    await page.goto(`${ORIGIN}/`);
    const rows = await page.$$eval('li', (lis) => lis.map((li) => li.textContent));
    const row = rows.find((r) => r.includes(`${NAME}-static/ (static layout)`));
    if (!row) throw new Error(`no static row in ${JSON.stringify(rows)}`);
    for (const part of ['0:30', '3 video rungs: 640x360 900k, 480x270 500k, 320x180 250k']) {
      if (!row.includes(part)) throw new Error(`row lacks ${part}: ${row}`);
    }
    const ism = rows.find((r) => r.includes(`${NAME}/${NAME}.ism`));
    if (!ism || !ism.includes('0:30')) throw new Error(`ism row: ${ism}`);
    await page.click(`a.play:text("${NAME}-static/ (static layout)")`);
    await waitFor(page, 'player ready', playerReady);
    return row;
  } finally {
    await context.close();
  }
}

// A portrait video fills the page's height in a box of its own shape, not a 16:9 one.
async function portraitBox(browser) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
  try {
    const page = await context.newPage();
    await page.goto(`${ORIGIN}/portrait/portrait.ism/player`);
    await waitFor(page, 'player ready', playerReady);
    const box = await waitFor(page, 'a box of the picture\'s shape', () => {
      const v = document.querySelector('video');
      const r = v.getBoundingClientRect();
      return v.videoWidth && Math.abs(r.height / r.width - v.videoHeight / v.videoWidth) < 0.03 && { w: r.width, h: r.height };
    });
    if (box.h < 0.75 * 720) throw new Error(`portrait box ${box.w}x${box.h} is small`);
    return `box ${Math.round(box.w)}x${Math.round(box.h)}`;
  } finally {
    await context.close();
  }
}

// The page's audio-language menu lists both tracks (the first chosen is the one playing) and
// switches dash.js to the other: its fragments are fetched and playback goes on.
async function audioMenu(browser) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
  const fetched = new Set();
  try {
    const page = await context.newPage();
    page.on('response', (r) => {
      const m = decodeURIComponent(r.url()).match(/Fragments\((\w+)=(\d+)\)/);
      if (m && r.status() === 200) fetched.add(m[1]);
    });
    await page.goto(`${ORIGIN}/langs/langs.ism/player`);
    await waitFor(page, 'player ready', playerReady);
    const menu = await page.evaluate(() => ({
      hidden: document.getElementById('audio-menu').hidden,
      options: [...document.getElementById('audio').options].map((o) => o.textContent),
      tracks: window.ssfpack.audioTracks.map((t) => t.lang),
      current: window.ssfpack.audio && window.ssfpack.audio.lang,
    }));
    if (menu.hidden || JSON.stringify(menu.tracks) !== '["eng","fra"]' || menu.current !== 'eng') {
      throw new Error(`audio menu ${JSON.stringify(menu)}`);
    }
    await page.evaluate(() => { const v = document.querySelector('video'); v.muted = true; return v.play().catch(() => {}); });
    await waitFor(page, 'playback start', () => document.querySelector('video').currentTime > 0.5);
    await page.evaluate(() => {
      const s = document.getElementById('audio');
      s.value = '1';
      s.dispatchEvent(new Event('change'));
    });
    await waitFor(page, 'the fra track playing', () => {
      const t = window.ssfpack.player.getCurrentTrackFor('audio');
      return t && t.lang === 'fra';
    });
    const t0 = await page.evaluate(() => document.querySelector('video').currentTime);
    await waitFor(page, 'audio_fra fetched and playback going on', (t) => document.querySelector('video').currentTime > t + 1.5, t0, 20000);
    if (!fetched.has('audio_fra')) throw new Error(`fragments fetched: ${[...fetched].join(', ')}`);
    const errors = await page.evaluate(() => window.ssfpack.errors);
    if (errors.length) throw new Error(`player errors: ${errors.join(' | ')}`);
    await page.screenshot({ path: join(SHOTS, 'audio-menu.png') });
    return `menu ${menu.options.join(', ')}; switched to fra; fetched ${[...fetched].join(', ')}`;
  } finally {
    await context.close();
  }
}

// launch() (not a persistent context) gives every run a fresh temporary profile.
const browser = await launchBrowser();
const originManifest = `${ORIGIN}/${NAME}/${NAME}.ism/Manifest`;
const tests = [
  ['origin index page', () => indexPage(browser)],
  ['written page uses the server\'s dash.js', () => writtenPageUsesServerScripts(browser)],
  ['offline page says how to fix it', () => offlineMessage(browser)],
  ['generic player page', () => genericPlayer(browser)],
  ['index lists static layouts', () => indexListsStaticLayouts(browser)],
  ['portrait video box', () => portraitBox(browser)],
  ['audio-language menu', () => audioMenu(browser)],
  ['dash.js · origin', () => scenario(browser, { name: 'dashjs-origin', player: 'dashjs', url: `${ORIGIN}/${NAME}/${NAME}.ism/player` })],
  ['dash.js · static layout', () => scenario(browser, { name: 'dashjs-static', player: 'dashjs', url: `${STATIC}/${NAME}/${NAME}.html` })],
  ['shaka 4.16 · origin', () => scenario(browser, { name: 'shaka-origin', player: 'shaka', url: `${STATIC}/shaka.html?manifest=${encodeURIComponent(originManifest)}` })],
  ['shaka 4.16 · static layout', () => scenario(browser, { name: 'shaka-static', player: 'shaka', url: `${STATIC}/shaka.html?manifest=${encodeURIComponent(`/${NAME}/Manifest`)}` })],
];
await runTests(browser, tests);
