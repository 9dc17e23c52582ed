// ssfpack's player page logic (written for ssfpack; it drives dash.js, which it loads from the
// configured base URL and never bundles). State is exposed as window.ssfpack for tests and debugging.
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('ssfpack-config').textContent);
  var video = document.getElementById('video');
  var select = document.getElementById('quality');
  var statusEl = document.getElementById('status');
  var errorEl = document.getElementById('error');
  var state = {
    ready: false,
    manifest: null,
    errors: [],
    representations: [],
    rendered: null,
    player: null,
    select: selectQuality
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

  // The page's name from the manifest URL: …/Movie.ism/Manifest → Movie, …/Out/Manifest → Out.
  function titleFor(url) {
    var parts = new URL(url, location.href).pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts.length && /^manifest$/i.test(parts[parts.length - 1])) parts.pop();
    var last = parts.length ? parts[parts.length - 1] : url;
    return last.replace(/\.ism[lc]?$/i, '');
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

  // The first candidate that answers with a Smooth Streaming client manifest: NAME.ism/Manifest from an
  // origin, Manifest from a pre-split static layout. ?manifest=URL overrides the candidates.
  async function findManifest() {
    var override = new URLSearchParams(location.search).get('manifest');
    var list = override ? [override] : config.manifests;
    if (!list.length) {
      var form = document.getElementById('open');
      form.hidden = false;
      statusEl.textContent = 'enter the URL of a Smooth Streaming manifest (…/NAME.ism/Manifest), or add ?manifest=URL';
      state.waiting = true;
      return null;
    }
    for (var i = 0; i < list.length; i++) {
      try {
        var r = await fetch(list[i], { cache: 'no-cache' });
        if (r.ok && (await r.text()).indexOf('SmoothStreamingMedia') >= 0) {
          return new URL(list[i], location.href).href;
        }
      } catch (e) { /* try the next one */ }
    }
    throw new Error('no Smooth Streaming manifest at ' + list.join(' or ') + ' (pages must be served over HTTP)');
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

  // 'auto' turns adaptive switching back on; a representation id pins that rung.
  function selectQuality(id) {
    var p = state.player;
    if (!p) return;
    var auto = id === 'auto';
    p.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: auto } } } });
    if (!auto) p.setRepresentationForTypeById('video', String(id), true);
    select.value = auto ? 'auto' : String(id);
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
    statusEl.textContent = (video.videoWidth ? video.videoWidth + '×' + video.videoHeight : '–') +
      ' · ' + (r ? kbps(r.bandwidth) : '–') + ' · ' + fmt(video.currentTime) + ' / ' + fmt(video.duration) +
      ' · buffer ' + buffered.toFixed(1) + ' s';
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
    var url = await findManifest();
    if (!url) return;
    state.manifest = url;
    if (new URLSearchParams(location.search).get('manifest') || !config.manifests.length) setTitle(titleFor(url));
    var link = document.getElementById('manifest-link');
    link.href = url;
    link.textContent = url;
    await loadDashjs();
    var player = dashjs.MediaPlayer().create();
    state.player = player;
    var ev = dashjs.MediaPlayer.events;
    player.on(ev.ERROR, function (e) {
      var err = e && e.error;
      fail('dash.js error' + (err ? ' ' + err.code + ': ' + err.message : ''));
    });
    player.on(ev.PLAYBACK_ERROR, function (e) { fail('playback error: ' + (e && e.error)); });
    player.on(ev.STREAM_INITIALIZED, function () { fillMenu(); state.ready = true; showStatus(); });
    player.on(ev.QUALITY_CHANGE_RENDERED, function (e) {
      if (e.mediaType === 'video') { state.rendered = describe(e.newRepresentation); showStatus(); }
    });
    select.addEventListener('change', function () { selectQuality(select.value); });
    ['timeupdate', 'resize', 'progress', 'seeked'].forEach(function (n) { video.addEventListener(n, showStatus); });
    ['loadedmetadata', 'resize'].forEach(function (n) { video.addEventListener(n, fitBox); });
    video.addEventListener('error', function () {
      fail('media error ' + (video.error ? video.error.code + ' ' + video.error.message : ''));
    });
    player.initialize(video, url, true);
  }

  start().catch(function (e) {
    statusEl.textContent = 'failed';
    fail(e && e.message ? e.message : e);
  });
})();
