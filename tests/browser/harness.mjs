// What every browser test file shares: Debian's chromium launched the same way, and the runner
// that runs each [title, fn] (those whose title contains $ONLY, when set), prints "ok"/"FAIL"
// lines and the closing "N passed, M failed" line run.sh adds up, then exits non-zero on a failure.
import { chromium } from 'playwright-core';

export function launchBrowser() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--autoplay-policy=no-user-gesture-required'],
  });
}

export async function runTests(browser, tests) {
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
}
