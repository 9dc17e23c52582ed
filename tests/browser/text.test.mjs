// Text tracks in the browser: a presentation with two TTML text tracks (eng, fra: mov_text streams of
// the source, converted by ssfpack) played from `ssfpack serve`.
// - dash.js (the player page): the page's subtitle menu lists both tracks with their language, the
//   video element exposes them as text tracks, and after choosing English and seeking, a cue becomes
//   active at its time (TextTrack.activeCues) and is drawn in the TTML rendering div.
// - Shaka 4.16 (which cannot show MSS text: see docs) plays audio and video with the text tracks present.
// - DASH (mpd-time-csf, IMSC1 stpp): dash.js 5 and Shaka 5 list both tracks and show a cue at its time.
//   Shaka 5.2 loses the text stream for good when a seek lands while the first segment of a text track
//   just selected is in flight (it aborts, refetches and never appends again: 3 runs of 8 by hand), so
//   the Shaka scenario waits for the track's first cues before it seeks, as a viewer's pause would.
// - HLS (m3u8-cmaf and m3u8-aapl, WebVTT SUBTITLES renditions): hls.js lists both and shows a cue at its
//   time in both forms. (`hlsCue` also drives Shaka 5: it showed the cue in 2 of 8 runs; in the others
//   its English track stayed empty though every WebVTT segment was fetched, as with its DASH text.)
//
// Environment: ORIGIN_URL (ssfpack serve), SCREENSHOT_DIR, TEXT_PRESENTATION (default subs).
import { launchBrowser, runTests, sleep, waitFor as waitForPage } from './harness.mjs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const ORIGIN = process.env.ORIGIN_URL;
const STATIC = process.env.STATIC_URL;
const SHOTS = process.env.SCREENSHOT_DIR || 'screenshots';
const NAME = process.env.TEXT_PRESENTATION || 'subs';
mkdirSync(SHOTS, { recursive: true });

const waitFor = (page, what, fn, arg, timeoutMs) => waitForPage(page, what, fn, arg, timeoutMs, { everyMs: 100 });

async function withPage(browser, name, body) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 720 } });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  try {
    const detail = await body(page, pageErrors);
    await page.screenshot({ path: join(SHOTS, `${name}.png`) });
    return detail;
  } catch (e) {
    await page.screenshot({ path: join(SHOTS, `${name}-failed.png`) }).catch(() => {});
    throw new Error(`${e.message}; page errors: ${pageErrors.join(' | ')}`);
  } finally {
    await context.close();
  }
}

// The source's English cues (tests/browser/run.sh writes them): 0.5–1.75 "Hello world",
// 2.2–4.6 "Second cue / on two lines".
const CUE = { begin: 2.2, end: 4.6, text: 'Second cue' };

async function dashjsCue(browser) {
  return withPage(browser, 'text-dashjs', async (page, pageErrors) => {
    const fetched = [];
    page.on('response', (r) => {
      const m = decodeURIComponent(r.url()).match(/Fragments\((text_\w+)=(\d+)\)/);
      if (m) fetched.push(`${m[1]}@${m[2]}:${r.status()}`);
    });
    await page.goto(`${ORIGIN}/${NAME}/${NAME}.ism/player`, { waitUntil: 'load' });
    await waitFor(page, 'player ready', () => !!(window.ssfpack && window.ssfpack.ready));
    const menu = await page.evaluate(() => ({
      tracks: window.ssfpack.textTracks,
      options: [...document.getElementById('subtitles').options].map((o) => o.textContent),
      hidden: document.getElementById('subtitles-label').hidden,
    }));
    const langs = menu.tracks.map((t) => t.lang).sort();
    if (JSON.stringify(langs) !== '["eng","fra"]') throw new Error(`text tracks ${JSON.stringify(menu.tracks)}`);
    if (menu.hidden || menu.options.length !== 3) throw new Error(`subtitle menu ${JSON.stringify(menu)}`);
    // Choose English in the menu, as a viewer would.
    const eng = menu.tracks.find((t) => t.lang === 'eng').index;
    await page.evaluate((i) => {
      const s = document.getElementById('subtitles');
      s.value = String(i);
      s.dispatchEvent(new Event('change'));
    }, eng);
    const videoTracks = await waitFor(page, 'video.textTracks', () => {
      const t = [...document.querySelector('video').textTracks];
      return t.length >= 2 ? t.map((x) => ({ language: x.language, kind: x.kind, mode: x.mode })) : null;
    });
    if (!videoTracks.some((t) => t.language === 'eng') || !videoTracks.some((t) => t.language === 'fra')) {
      throw new Error(`video.textTracks: ${JSON.stringify(videoTracks)}`);
    }
    await page.evaluate((t) => {
      const v = document.querySelector('video');
      v.muted = true;
      v.currentTime = t;
      return v.play().catch(() => {});
    }, CUE.begin - 1.2);
    // The cue becomes active at its time, not before.
    const seen = await waitFor(page, `cue "${CUE.text}" active`, (cue) => {
      const v = document.querySelector('video');
      const track = [...v.textTracks].find((x) => x.language === 'eng' && x.mode !== 'disabled');
      const active = track && track.activeCues ? [...track.activeCues] : [];
      const drawn = document.getElementById('ttml').textContent;
      if (active.length && drawn.includes(cue.text)) return { t: v.currentTime, drawn, active: active.length };
      if (v.currentTime > cue.end) return { late: v.currentTime, drawn, active: active.length };
      return null;
    }, CUE, 25000);
    if (seen.late !== undefined) throw new Error(`no active cue by ${seen.late.toFixed(2)} s (drawn ${JSON.stringify(seen.drawn)})`);
    if (seen.t < CUE.begin - 0.3 || seen.t > CUE.begin + 0.8) throw new Error(`cue active at ${seen.t.toFixed(2)} s, expected ${CUE.begin} s`);
    const errors = await page.evaluate(() => window.ssfpack.errors);
    if (errors.length || pageErrors.length) throw new Error(`errors: ${[...errors, ...pageErrors].join(' | ')}`);
    if (!fetched.some((f) => f.startsWith('text_eng@') && f.endsWith(':200'))) throw new Error(`no text fragment fetched: ${fetched}`);
    return `tracks ${langs.join(', ')} in the menu (${menu.options.join(' / ')}); "${CUE.text}" active at ${seen.t.toFixed(2)} s ` +
      `(cue ${CUE.begin} s), drawn; text fragments ${fetched.join(' ')}`;
  });
}

// DASH (`Manifest(format=mpd-time-csf)`: IMSC1 stpp segments with track-timeline times) in dash.js 5
// (or Shaka 5) through players.html: the text tracks are listed with their languages, and with the
// English one showing, a cue becomes active at its source time.
async function dashCue(browser, player) {
  return withPage(browser, `text-dash-${player}`, async (page, pageErrors) => {
    const fetched = [];
    page.on('response', (r) => {
      const m = decodeURIComponent(r.url()).match(/Fragments\((text_\w+)=(\d+),format=mpd-time-csf\)/);
      if (m) fetched.push(`${m[1]}@${m[2]}:${r.status()}`);
    });
    const manifest = `${ORIGIN}/${NAME}/${NAME}.ism/Manifest(format=mpd-time-csf)`;
    await page.goto(`${STATIC}/players.html?player=${player}&manifest=${encodeURIComponent(manifest)}`, { waitUntil: 'load' });
    await waitFor(page, 'player ready', () => window.playerTest.ready || window.playerTest.errors.length);
    const langs = await waitFor(page, 'text tracks listed', (p) => {
      const t = p === 'dashjs' ? window.playerTest.player.getTracksFor('text') : window.playerTest.player.getTextTracks();
      return t.length >= 2 ? t.map((x) => x.lang || x.language).sort() : null;
    }, player);
    // The players give the MPD's `eng`/`fra` as BCP 47 (`en`/`fr`).
    if (JSON.stringify(langs.map((l) => l.slice(0, 2))) !== '["en","fr"]') throw new Error(`text tracks ${JSON.stringify(langs)}`);
    if (player === 'dashjs') {
      await page.evaluate(() => {
        const p = window.playerTest.player;
        p.setTextTrack(p.getTracksFor('text').findIndex((t) => t.lang.startsWith('en')));
      });
    } else {
      // selectTextTrack also makes the text visible in Shaka 5 (no setTextTrackVisibility any more).
      await page.evaluate(() => {
        const p = window.playerTest.player;
        p.selectTextTrack(p.getTextTracks().find((t) => t.language.startsWith('en')));
      });
      await waitFor(page, 'the English track\'s first cues', () => [...document.querySelector('video').textTracks]
        .some((x) => x.language.startsWith('en') && x.mode === 'showing' && x.cues && x.cues.length > 0));
    }
    await page.evaluate((t) => {
      const v = document.querySelector('video');
      v.muted = true;
      v.currentTime = t;
      return v.play().catch(() => {});
    }, CUE.begin - 1.2);
    const seen = await waitFor(page, `cue "${CUE.text}" active`, ({ cue, player }) => {
      const v = document.querySelector('video');
      // dash.js leaves its tracks disabled; Shaka 5 shows the one it selected and turns a track switched
      // on behind its back into its own selection (NativeTextDisplayer), so it is left alone.
      if (player === 'dashjs') {
        for (const track of v.textTracks) {
          if (track.mode === 'disabled') track.mode = 'showing';
        }
      }
      const active = [...v.textTracks].flatMap((x) => (x.activeCues ? [...x.activeCues] : []));
      // dash.js's TTML cues have no text (it draws them into the #ttml div); Shaka's carry it.
      const hit = active.find((c) => Math.abs(c.startTime - cue.begin) < 0.05);
      const div = document.getElementById('ttml');
      // dash.js draws the div on the cue's enter event, a moment after the cue turns active: poll on.
      const text = hit ? hit.text || (div ? div.textContent : '') : '';
      if (hit && text) return { t: v.currentTime, start: hit.startTime, text };
      const tracks = [...v.textTracks].map((x) => `${x.language}:${x.mode}:${x.cues ? x.cues.length : 0} cues`).join(' ');
      if (v.currentTime > cue.end) return { late: v.currentTime, active: active.length, tracks, drawn: !!hit };
      return null;
    }, { cue: CUE, player }, 25000);
    if (seen.late !== undefined) throw new Error(`no active cue${seen.drawn ? ' with text' : ''} by ${seen.late.toFixed(2)} s (${seen.active} other cues; tracks ${seen.tracks})`);
    if (!seen.text.includes(CUE.text)) throw new Error(`active cue shows ${JSON.stringify(seen.text)}`);
    if (Math.abs(seen.start - CUE.begin) > 0.05) throw new Error(`cue starts at ${seen.start} s, expected ${CUE.begin} s`);
    if (seen.t < CUE.begin - 0.3 || seen.t > CUE.begin + 0.8) throw new Error(`cue active at ${seen.t.toFixed(2)} s, expected ${CUE.begin} s`);
    const errors = await page.evaluate(() => window.playerTest.errors);
    if (errors.length || pageErrors.length) throw new Error(`errors: ${[...errors, ...pageErrors].join(' | ')}`);
    if (!fetched.some((f) => f.startsWith('text_eng@') && f.endsWith(':200'))) throw new Error(`no DASH text segment fetched: ${fetched}`);
    if (fetched.some((f) => !f.endsWith(':200'))) throw new Error(`text segment errors: ${fetched}`);
    return `DASH text tracks ${langs.join(', ')}; "${CUE.text}" (cue at ${seen.start.toFixed(3)} s) active at ${seen.t.toFixed(2)} s; ${fetched.join(' ')}`;
  });
}

// HLS (`m3u8-cmaf` fMP4 or `m3u8-aapl` MPEG-TS, both with WebVTT `SUBTITLES` renditions) in hls.js or
// Shaka 5 through players.html: both subtitle renditions are listed with their languages, the English
// one is chosen, and after a seek its cue becomes active at its source time (the segments'
// X-TIMESTAMP-MAP puts it on the audio/video timeline of either form).
async function hlsCue(browser, player, format) {
  return withPage(browser, `text-hls-${player}-${format}`, async (page, pageErrors) => {
    const fetched = [];
    page.on('response', (r) => {
      const m = decodeURIComponent(r.url()).match(/Fragments\((text_\w+)=(\d+),format=m3u8-\w+\)/);
      if (m) fetched.push(`${m[1]}@${m[2]}:${r.status()}`);
    });
    const manifest = `${ORIGIN}/${NAME}/${NAME}.ism/Manifest(format=${format})`;
    await page.goto(`${STATIC}/players.html?player=${player}&manifest=${encodeURIComponent(manifest)}`, { waitUntil: 'load' });
    await waitFor(page, 'player ready', () => window.playerTest.ready || window.playerTest.errors.length);
    const langs = await waitFor(page, 'subtitle renditions listed', (p) => {
      const t = p === 'hlsjs' ? window.playerTest.player.subtitleTracks : window.playerTest.player.getTextTracks();
      return t && t.length >= 2 ? t.map((x) => x.lang || x.language).sort() : null;
    }, player);
    if (JSON.stringify(langs) !== '["en","fr"]') throw new Error(`subtitle renditions ${JSON.stringify(langs)}`);
    await page.evaluate((p) => {
      const pl = window.playerTest.player;
      if (p === 'hlsjs') {
        pl.subtitleTrack = pl.subtitleTracks.findIndex((t) => t.lang === 'en');
        pl.subtitleDisplay = true;
      } else {
        // Shaka 5 shows a track it is asked to select (4.x also needed setTextTrackVisibility).
        pl.selectTextTrack(pl.getTextTracks().find((t) => t.language === 'en'));
      }
    }, player);
    await page.evaluate((t) => {
      const v = document.querySelector('video');
      v.muted = true;
      v.currentTime = t;
      return v.play().catch(() => {});
    }, CUE.begin - 1.2);
    const seen = await waitFor(page, `cue "${CUE.text}" active`, (cue) => {
      const v = document.querySelector('video');
      const showing = [...v.textTracks].filter((x) => x.mode === 'showing');
      const active = showing.flatMap((x) => (x.activeCues ? [...x.activeCues] : []));
      const hit = active.find((c) => Math.abs(c.startTime - cue.begin) < 0.05);
      if (hit) return { t: v.currentTime, start: hit.startTime, text: hit.text, tracks: showing.map((x) => x.language) };
      if (v.currentTime > cue.end) {
        const tracks = [...v.textTracks].map((x) => `${x.language}/${x.mode}: ${x.cues ? [...x.cues].map((c) => c.startTime.toFixed(3)).join(',') : '-'}`);
        return { late: v.currentTime, tracks };
      }
      return null;
    }, CUE, 25000);
    if (seen.late !== undefined) throw new Error(`no active cue by ${seen.late.toFixed(2)} s (text tracks: ${JSON.stringify(seen.tracks)}; fetched ${fetched})`);
    if (!seen.text.includes(CUE.text)) throw new Error(`active cue shows ${JSON.stringify(seen.text)}`);
    if (seen.t < CUE.begin - 0.3 || seen.t > CUE.begin + 0.8) throw new Error(`cue active at ${seen.t.toFixed(2)} s, expected ${CUE.begin} s`);
    const frames = await page.evaluate(() => document.querySelector('video').getVideoPlaybackQuality().totalVideoFrames);
    if (!frames) throw new Error('no video frame decoded');
    const errors = await page.evaluate(() => window.playerTest.errors);
    if (errors.length || pageErrors.length) throw new Error(`errors: ${[...errors, ...pageErrors].join(' | ')}`);
    if (!fetched.some((f) => f.startsWith('text_eng@') && f.endsWith(':200'))) throw new Error(`no WebVTT segment fetched: ${fetched}`);
    if (fetched.some((f) => !f.endsWith(':200'))) throw new Error(`WebVTT segment errors: ${fetched}`);
    return `HLS subtitles ${langs.join(', ')}; "${CUE.text}" (cue at ${seen.start.toFixed(3)} s) active at ${seen.t.toFixed(2)} s ` +
      `in ${JSON.stringify(seen.tracks)}; ${frames} frames; ${fetched.join(' ')}`;
  });
}

async function shakaPlaysWithText(browser) {
  return withPage(browser, 'text-shaka', async (page) => {
    const manifest = `${ORIGIN}/${NAME}/${NAME}.ism/Manifest`;
    await page.goto(`${STATIC}/shaka.html?manifest=${encodeURIComponent(manifest)}`, { waitUntil: 'load' });
    await waitFor(page, 'shaka ready', () => !!(window.shakaTest && (window.shakaTest.ready || window.shakaTest.errors.length)));
    await page.evaluate(() => { const v = document.querySelector('video'); v.muted = true; return v.play().catch(() => {}); });
    await waitFor(page, 'playback to 3 s', () => document.querySelector('video').currentTime >= 3 || window.shakaTest.errors.length, null, 25000);
    const r = await page.evaluate(() => ({
      errors: window.shakaTest.errors,
      t: document.querySelector('video').currentTime,
      h: document.querySelector('video').videoHeight,
      text: window.shakaTest.player.getTextTracks().map((t) => t.language),
    }));
    if (r.errors.length) throw new Error(`shaka errors: ${r.errors.join(' | ')}`);
    if (!r.h) throw new Error('no picture decoded');
    return `played to ${r.t.toFixed(1)} s at height ${r.h}; Shaka lists text tracks ${JSON.stringify(r.text)} (not shown)`;
  });
}

const browser = await launchBrowser();
const tests = [
  ['text · dash.js subtitle menu and a cue at its time', () => dashjsCue(browser)],
  ['text · shaka 4.16 plays with text tracks present', () => shakaPlaysWithText(browser)],
  ['text · dash.js 5 DASH stpp cue at its time', () => dashCue(browser, 'dashjs')],
  ['text · shaka 5 DASH stpp cue at its time', () => dashCue(browser, 'shaka5')],
  ['text · hls.js m3u8-cmaf WebVTT cue at its time', () => hlsCue(browser, 'hlsjs', 'm3u8-cmaf')],
  ['text · hls.js m3u8-aapl (MPEG-TS) WebVTT cue at its time', () => hlsCue(browser, 'hlsjs', 'm3u8-aapl')],
];
await runTests(browser, tests);
