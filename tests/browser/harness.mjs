// What every browser test file shares: Debian's chromium launched the same way, polling a page
// until a condition holds, and the runner that runs each [title, fn] (those whose title contains
// $ONLY, when set), prints "ok"/"FAIL" lines and the closing "N passed, M failed" line run.sh adds
// up, then exits non-zero on a failure.
import { chromium } from 'playwright-core';

export function launchBrowser() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--autoplay-policy=no-user-gesture-required'],
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Evaluates `fn(arg)` in `page` every `everyMs` until it returns something truthy (returned), or
// throws "timed out waiting for WHAT" after `timeoutMs`, with `describe(page)`'s answer when given.
export async function waitFor(page, what, fn, arg, timeoutMs = 20000, { everyMs = 200, describe } = {}) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await page.evaluate(fn, arg);
    if (v) return v;
    if (Date.now() > end) {
      const detail = describe ? ` (${JSON.stringify(await describe(page).catch(() => null))})` : '';
      throw new Error(`timed out waiting for ${what}${detail}`);
    }
    await sleep(everyMs);
  }
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
