// ssfpack's player page logic (written for ssfpack; it drives dash.js, which it loads from the
// configured base URL and never bundles). State is exposed as window.ssfpack for tests and debugging.
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('ssfpack-config').textContent);
  var video = document.getElementById('video');
  var select = document.getElementById('quality');
  var statusEl = document.getElementById('status');
  var errorEl = document.getElementById('error');
  var liveEl = document.getElementById('live');
  var liveStateEl = document.getElementById('live-state');
  var dvrBar = document.getElementById('dvr-bar');
  var dvr = document.getElementById('dvr');
  // A publishing point's page says so ('idle', 'live' or 'stopped': the point's state when the page
  // was served); whether the stream plays live is what dash.js detects from the manifest.
  var point = config.live || null;
  var state = {
    ready: false,
    manifest: null,
    kind: null,
    point: point,
    live: false,
    dvrWindowLength: 0,
    liveState: null,
    seekLive: seekLive,
    goLive: goLive,
    errors: [],
    representations: [],
    rendered: null,
    player: null,
    select: selectQuality,
    textTracks: [],
    selectText: selectText,
    audioTracks: [],
    audio: null,
    selectAudio: selectAudio
  };
  window.ssfpack = state;

  function fail(message) {
    state.errors.push(String(message));
    errorEl.hidden = false;
    errorEl.textContent = state.errors.join('\n');
  }

  function jsBase() {
    var b = config.jsBase || '';
    return b.charAt(b.length - 1) === '/' ? b : b + '/';
  }

  // Served by `ssfpack serve`, a page uses the server's dash.js (a local copy, or its
  // --player-js-base) rather than the address it was written with: /_player/config.json answers.
  async function useServerScripts() {
    if (!/^https?:$/.test(location.protocol)) return;
    try {
      var r = await fetch('/_player/config.json', { cache: 'no-cache' });
      if (!r.ok) return;
      var c = await r.json();
      if (c && c.server === 'ssfpack' && c.jsBase) config.jsBase = c.jsBase;
    } catch (e) { /* not ssfpack serve: keep the page's own base */ }
  }

  // The page's name from the manifest URL: …/Movie.ism/Manifest → Movie, …/Out/Manifest → Out,
  // …/Movie.mpd → Movie.
  function titleFor(url) {
    var parts = new URL(url, location.href).pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts.length && /^manifest(\(.*\))?$/i.test(parts[parts.length - 1])) parts.pop();
    var last = parts.length ? parts[parts.length - 1] : url;
    return last.replace(/\.(ism[lc]?|mpd|m3u8)$/i, '');
  }

  function setTitle(t) {
    document.title = t;
    document.getElementById('title').textContent = t;
  }

  // The box takes the picture's aspect (see player.css).
  function fitBox() {
    if (!video.videoWidth || !video.videoHeight) return;
    video.style.setProperty('--ar', video.videoWidth + ' / ' + video.videoHeight);
    video.style.setProperty('--arn', String(video.videoWidth / video.videoHeight));
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement('script');
      s.src = src;
      s.onload = resolve;
      s.onerror = function () { reject(new Error('could not load ' + src)); };
      document.head.appendChild(s);
    });
  }

  // What a manifest's text is: 'smooth' (a client manifest), 'dash' (an MPD), 'hls' (a playlist), or null.
  function manifestKind(text) {
    if (text.indexOf('SmoothStreamingMedia') >= 0) return 'smooth';
    if (/<MPD[\s>]/.test(text)) return 'dash';
    if (/^\uFEFF?#EXTM3U/.test(text)) return 'hls';
    return null;
  }

  // The first candidate that answers with a manifest: NAME.ism/Manifest from an origin, then what the
  // folder holds for static hosting (the pre-split Manifest, NAME.mpd, NAME.m3u8), in the order the
  // page was written with. ?manifest=URL overrides the candidates.
  async function findManifest() {
    var override = new URLSearchParams(location.search).get('manifest');
    var list = override ? [override] : config.manifests;
    if (!list.length) {
      var form = document.getElementById('open');
      form.hidden = false;
      statusEl.textContent = 'enter the URL of a manifest (…/NAME.ism/Manifest, an MPD or an HLS playlist), or add ?manifest=URL';
      state.waiting = true;
      return null;
    }
    for (var i = 0; i < list.length; i++) {
      try {
        var r = await fetch(list[i], { cache: 'no-cache' });
        var text = r.ok ? await r.text() : '';
        var kind = manifestKind(text);
        if (kind) {
          if (kind === 'smooth') state.dvrWindowLength = dvrWindowLength(text);
          state.kind = kind;
          return new URL(list[i], location.href).href;
        }
      } catch (e) { /* try the next one */ }
    }
    throw new Error('no manifest at ' + list.join(' or ') + ' (pages must be served over HTTP)');
  }

  // A point has no manifest until its encoder has pushed a few fragments: wait for it (every 2 s,
  // for at most an hour), saying so.
  async function waitForManifest() {
    var end = Date.now() + 3600 * 1000;
    for (;;) {
      try {
        return await findManifest();
      } catch (e) {
        if (!point || Date.now() > end) throw e;
        statusEl.textContent = 'waiting for the encoder (point ' + point + ')…';
        await new Promise(function (r) { setTimeout(r, 2000); });
      }
    }
  }

  // dash.js synchronises its clock for live streams with time.akamai.com unless told otherwise: use
  // the origin's clock (a point's page names it), else the Date header of the manifest's server.
  function timingSource(manifestUrl) {
    if (config.timeSource) {
      return { scheme: 'urn:mpeg:dash:utc:http-xsdate:2014', value: new URL(config.timeSource, location.href).href };
    }
    return { scheme: 'urn:mpeg:dash:utc:http-head:2014', value: manifestUrl };
  }

  // The DVR window, in presentation seconds (the video element's time).
  function dvrWindow() {
    var w = state.player && state.player.getDvrWindow();
    return w && isFinite(w.start) && isFinite(w.end) ? w : null;
  }

  // The live manifest's DVR window in seconds (0: unbounded, or not live).
  function dvrWindowLength(xml) {
    var root = /<SmoothStreamingMedia\b[^>]*>/.exec(xml);
    var attr = function (n) { var m = root && new RegExp('\\b' + n + '="(\\d+)"').exec(root[0]); return m ? Number(m[1]) : 0; };
    return attr('DVRWindowLength') / (attr('TimeScale') || 1e7);
  }

  // Seeks to a presentation time inside the DVR window. dash.js knows the window only from the
  // fragments it fetched, so its start lags the origin's, which has dropped the oldest fragments
  // by then (404): with a bounded window, keep clear of its start.
  function seekLive(t) {
    var w = dvrWindow();
    if (!w) return;
    var margin = state.dvrWindowLength > 0 ? Math.min(6, (w.end - w.start) / 3) : 0;
    state.player.seekToPresentationTime(Math.min(Math.max(t, w.start + margin), w.end));
  }

  function goLive() {
    if (state.player) state.player.seekToOriginalLive();
    if (video.paused) video.play().catch(function () {});
  }

  function showLive() {
    if (!state.live) return;
    var w = dvrWindow();
    if (!w) return;
    var behind = Math.max(0, w.end - video.currentTime);
    // dash.js plays a target delay (4 fragments) behind the newest fragment it knows of.
    var target = state.player.getTargetLiveDelay() || 8;
    var s = video.paused ? 'paused' : video.seeking ? 'seeking' : behind <= target + 4 ? 'live edge' : 'behind';
    state.liveState = s;
    liveEl.classList.toggle('behind', s !== 'live edge');
    liveStateEl.textContent = (s === 'live edge' ? 'at the live edge' : s === 'behind' ? behind.toFixed(0) + ' s behind live' : s) +
      (point ? ' · point ' + point : '');
    if (document.activeElement !== dvr) {
      dvr.min = String(w.start);
      dvr.max = String(w.end);
      dvr.value = String(video.currentTime);
    }
  }

  function describe(rep) {
    if (!rep) return null;
    return { id: String(rep.id), bandwidth: rep.bandwidth, width: rep.width, height: rep.height };
  }

  function kbps(bps) { return Math.round(bps / 1000) + ' kbps'; }

  function fillMenu() {
    var reps = state.player.getRepresentationsByType('video') || [];
    state.representations = reps.map(describe).sort(function (a, b) { return b.bandwidth - a.bandwidth; });
    while (select.options.length > 1) select.remove(1);
    state.representations.forEach(function (r) {
      var o = document.createElement('option');
      o.value = r.id;
      o.textContent = r.width + '×' + r.height + ' · ' + kbps(r.bandwidth);
      select.appendChild(o);
    });
  }

  // The audio-language menu: one entry per audio StreamIndex (dash.js track), shown when there are
  // several; the manifest's first is the one dash.js starts with.
  var audioSelect = document.getElementById('audio');
  function describeAudio(t) {
    return t ? { index: t.index, id: t.id == null ? null : String(t.id), lang: t.lang || 'und' } : null;
  }
  function fillAudioMenu() {
    var tracks = state.player.getTracksFor('audio') || [];
    state.audioTracks = tracks.map(describeAudio);
    state.audio = describeAudio(state.player.getCurrentTrackFor('audio'));
    while (audioSelect.options.length) audioSelect.remove(0);
    state.audioTracks.forEach(function (t, i) {
      var o = document.createElement('option');
      o.value = String(i);
      o.textContent = t.lang + (t.id ? ' · ' + t.id : '');
      audioSelect.appendChild(o);
    });
    var current = state.audio ? state.audioTracks.findIndex(function (t) { return t.index === state.audio.index; }) : -1;
    if (current >= 0) audioSelect.value = String(current);
    document.getElementById('audio-menu').hidden = tracks.length < 2;
  }
  // Switches to audio track i of the menu (dash.js replaces the audio buffer).
  function selectAudio(i) {
    var p = state.player;
    var tracks = p ? p.getTracksFor('audio') || [] : [];
    var t = tracks[Number(i)];
    if (!t) return;
    p.setCurrentTrack(t);
    state.audio = describeAudio(t);
    audioSelect.value = String(i);
  }

  // 'auto' turns adaptive switching back on; a representation id pins that rung.
  function selectQuality(id) {
    var p = state.player;
    if (!p) return;
    var auto = id === 'auto';
    p.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: auto } } } });
    if (!auto) p.setRepresentationForTypeById('video', String(id), true);
    select.value = auto ? 'auto' : String(id);
  }

  // The subtitle menu: one entry per text track (Smooth `StreamIndex Type="text"`), by language;
  // dash.js draws the chosen track's TTML cues into #ttml. Off by default.
  var subtitles = document.getElementById('subtitles');

  function languageName(code) {
    try {
      var n = new Intl.DisplayNames([navigator.language || 'en'], { type: 'language' }).of(code);
      if (n && n !== code) return n + ' (' + code + ')';
    } catch (e) { /* not a code Intl knows */ }
    return code;
  }

  function fillTextMenu() {
    var tracks = state.player.getTracksFor('text') || [];
    state.textTracks = tracks.map(function (t, i) {
      var roles = (t.roles || []).map(function (r) { return r && r.value ? r.value : String(r); });
      return { index: i, id: String(t.id), lang: t.lang, captions: roles.indexOf('main') >= 0 };
    });
    while (subtitles.options.length > 1) subtitles.remove(1);
    state.textTracks.forEach(function (t) {
      var o = document.createElement('option');
      o.value = String(t.index);
      o.textContent = languageName(t.lang || 'und') + (t.captions ? ' · CC' : '');
      subtitles.appendChild(o);
    });
    document.getElementById('subtitles-label').hidden = !state.textTracks.length;
    subtitles.value = String(state.player.getCurrentTextTrackIndex());
    if (subtitles.selectedIndex < 0) subtitles.value = '-1';
  }

  // -1: off; else the index of a track in the menu (dash.js's order of text tracks).
  function selectText(index) {
    var p = state.player;
    if (!p) return;
    var i = Number(index);
    if (i >= 0) p.enableText(true);
    p.setTextTrack(i);
    subtitles.value = String(i);
  }

  function fmt(t) {
    if (!isFinite(t)) return '–';
    var m = Math.floor(t / 60), s = (t - m * 60).toFixed(1);
    return m + ':' + (s < 10 ? '0' : '') + s;
  }

  function showStatus() {
    var r = state.rendered;
    var buffered = 0;
    for (var i = 0; i < video.buffered.length; i++) {
      if (video.buffered.start(i) <= video.currentTime && video.currentTime <= video.buffered.end(i)) {
        buffered = video.buffered.end(i) - video.currentTime;
      }
    }
    var w = state.live && dvrWindow();
    var span = w ? 'DVR ' + fmt(w.start) + '–' + fmt(w.end) : fmt(video.duration);
    statusEl.textContent = (video.videoWidth ? video.videoWidth + '×' + video.videoHeight : '–') +
      ' · ' + (r ? kbps(r.bandwidth) : '–') + ' · ' + fmt(video.currentTime) + ' / ' + span +
      ' · buffer ' + buffered.toFixed(1) + ' s';
    showLive();
  }

  async function loadDashjs() {
    try {
      await loadScript(jsBase() + 'dash.all.min.js');
      await loadScript(jsBase() + 'dash.mss.min.js');
    } catch (e) {
      throw new Error(e.message + ': dash.js is not reachable (offline, or the address is blocked). ' +
        'Serve a local copy with `ssfpack serve DIR --player-js-dir node_modules/dashjs/dist` ' +
        '(npm install dashjs), or write the page with `--player-js-base URL` pointing at a folder ' +
        'holding dash.all.min.js and dash.mss.min.js');
    }
    if (!window.dashjs) throw new Error('dash.js did not load from ' + jsBase());
  }

  async function start() {
    await useServerScripts();
    document.getElementById('js-base').textContent = jsBase();
    var url = await waitForManifest();
    if (!url) return;
    state.manifest = url;
    if (new URLSearchParams(location.search).get('manifest') || !config.manifests.length) setTitle(titleFor(url));
    var link = document.getElementById('manifest-link');
    link.href = url;
    link.textContent = url;
    document.getElementById('manifest-kind').textContent =
      { smooth: 'Smooth Streaming manifest', dash: 'DASH MPD', hls: 'HLS playlist' }[state.kind];
    if (state.kind === 'hls') return playNativeHls(url);
    await loadDashjs();
    var player = dashjs.MediaPlayer().create();
    state.player = player;
    player.updateSettings({
      streaming: { utcSynchronization: { defaultTimingSource: timingSource(url) }, text: { defaultEnabled: false } }
    });
    var ev = dashjs.MediaPlayer.events;
    player.on(ev.ERROR, function (e) {
      var err = e && e.error;
      fail('dash.js error' + (err ? ' ' + err.code + ': ' + err.message : ''));
    });
    player.on(ev.PLAYBACK_ERROR, function (e) { fail('playback error: ' + (e && e.error)); });
    player.on(ev.STREAM_INITIALIZED, function () {
      state.live = player.isDynamic();
      liveEl.hidden = liveStateEl.hidden = dvrBar.hidden = !state.live;
      fillMenu();
      fillAudioMenu();
      fillTextMenu();
      state.ready = true;
      showStatus();
    });
    player.on(ev.QUALITY_CHANGE_RENDERED, function (e) {
      if (e.mediaType === 'video') { state.rendered = describe(e.newRepresentation); showStatus(); }
    });
    select.addEventListener('change', function () { selectQuality(select.value); });
    audioSelect.addEventListener('change', function () { selectAudio(audioSelect.value); });
    subtitles.addEventListener('change', function () { selectText(subtitles.value); });
    dvr.addEventListener('change', function () { seekLive(Number(dvr.value)); dvr.blur(); });
    document.getElementById('go-live').addEventListener('click', goLive);
    liveEl.addEventListener('click', goLive);
    ['timeupdate', 'resize', 'progress', 'seeked', 'seeking', 'pause', 'play'].forEach(function (n) { video.addEventListener(n, showStatus); });
    ['loadedmetadata', 'resize'].forEach(function (n) { video.addEventListener(n, fitBox); });
    video.addEventListener('error', function () {
      fail('media error ' + (video.error ? video.error.code + ' ' + video.error.message : ''));
    });
    // The view first, then the TTML div (dash.js needs the view for it), then the source.
    player.initialize(video, null, true);
    player.attachTTMLRenderingDiv(document.getElementById('ttml'));
    player.attachSource(url);
  }

  // An HLS playlist (a folder written with --layout hls alone): dash.js plays DASH and Smooth only, so
  // the browser's own HLS playback (Safari; Chromium 156 plays it), with no quality or track menus.
  function playNativeHls(url) {
    document.getElementById('played-by').textContent = 'played by the browser';
    if (!video.canPlayType('application/vnd.apple.mpegurl')) {
      throw new Error('this browser cannot play HLS itself, and dash.js plays only DASH and Smooth Streaming: ' +
        'write the folder with --layout dash (NAME.mpd) too, or open ' + url + ' in an HLS player');
    }
    select.disabled = true;
    video.addEventListener('loadedmetadata', function () { state.ready = true; showStatus(); fitBox(); });
    ['timeupdate', 'resize', 'progress', 'seeked', 'seeking', 'pause', 'play'].forEach(function (n) { video.addEventListener(n, showStatus); });
    video.addEventListener('error', function () {
      fail('media error ' + (video.error ? video.error.code + ' ' + video.error.message : ''));
    });
    video.src = url;
  }

  start().catch(function (e) {
    statusEl.textContent = 'failed';
    fail(e && e.message ? e.message : e);
  });
})();
