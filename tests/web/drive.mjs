// Drives headless Chromium (Debian's /usr/bin/chromium through playwright-core) over the
// screening page for tests/web/test_web_browser.py. No mocks: a fake camera device fed by a
// y4m video of real ISIC images, the real LiteRT.js runtime and the real exported model.
//
//   node drive.mjs config.json
//
// Prints progress lines, "OFFLINE-READY" when the server may be stopped (then waits for a line
// on stdin), and finally writes result.json into config.out_dir.

import {writeFileSync, mkdirSync} from 'node:fs';
import {join} from 'node:path';
import {createInterface} from 'node:readline';
import {pathToFileURL} from 'node:url';

const cfg = JSON.parse((await import('node:fs')).readFileSync(process.argv[2], 'utf8'));
const {chromium} = await import(pathToFileURL(join(cfg.node_modules, 'playwright-core', 'index.mjs')).href);
mkdirSync(cfg.out_dir, {recursive: true});

const t0 = Date.now();
const log = (...a) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);
const result = {requests: [], websockets: [], scenarios: {}, downloads: [], console_errors: []};
const stdinLines = createInterface({input: process.stdin})[Symbol.asyncIterator]();

const context = await chromium.launchPersistentContext(cfg.user_data_dir, {
  executablePath: cfg.chromium,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-default-apps', '--disable-extensions',
    '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${cfg.y4m}`],
  viewport: {width: 412, height: 915}, deviceScaleFactor: 1, isMobile: true, hasTouch: true,
  acceptDownloads: true, downloadsPath: cfg.out_dir,
});
// Every request of every page and service worker of this browser, wherever it goes.
context.on('request', (r) => result.requests.push({method: r.method(), url: r.url(), type: r.resourceType(), sw: !!r.serviceWorker()}));
context.on('page', (p) => p.on('websocket', (ws) => result.websockets.push(ws.url())));
// Camera allowed for the main origin only; 127.0.0.1 is another origin, whose prompt headless Chromium denies.
await context.grantPermissions(['camera'], {origin: new URL(cfg.main_url).origin});

const state = (page) => page.evaluate(() => {
  const e = window.edgeseg;
  return e && {phase: e.phase, fps: e.fps, frames: e.frames, engine: e.engine, model: e.model, selfCheck: e.selfCheck,
    message: e.message, notice: e.notice, fallbacks: e.fallbacks, camera: e.camera, offlineReady: e.offlineReady,
    fpsText: document.getElementById('fps').textContent, engineText: document.getElementById('engine').textContent,
    measureText: document.getElementById('measure').textContent, privacyText: document.getElementById('privacy').textContent,
    hintsText: document.getElementById('hints').textContent};
});

async function openPage(url, {until = ['running', 'error'], frames = 0, timeout = 60000} = {}) {
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error' && !/^INFO: |^WARNING: /.test(m.text())) result.console_errors.push(m.text().slice(0, 300)); });
  page.on('pageerror', (e) => result.console_errors.push(`pageerror: ${e.message}`));
  await page.goto(url);
  await page.waitForFunction(([phases, n]) => window.edgeseg && phases.includes(window.edgeseg.phase) &&
    (window.edgeseg.phase !== 'running' || window.edgeseg.frames >= n), [until, frames], {timeout, polling: 100});
  return page;
}

async function main() {
  // 1. The page on the fake rear camera with the shipped int8 model.
  log('main page', cfg.main_url);
  const page = await openPage(cfg.main_url, {frames: 3});
  log('running; measuring FPS for', cfg.run_seconds, 's');
  const framesBefore = (await state(page)).frames;
  await page.waitForTimeout(cfg.run_seconds * 1000);
  const running = await state(page);
  running.frames_in_window = running.frames - framesBefore;
  result.scenarios.main = running;
  log('fps', running.fps.toFixed(2), running.engineText);
  await page.screenshot({path: join(cfg.out_dir, 'screening_page.png')});

  // 2. Freeze keeps the frame and its mask; Save downloads image, mask and JSON.
  await page.getByRole('button', {name: 'Freeze'}).click();
  await page.waitForFunction(() => window.edgeseg.phase === 'frozen');
  const frozen = await page.evaluate(() => window.edgeseg.frozen);
  const framesAtFreeze = (await state(page)).frames;
  await page.waitForTimeout(600);
  result.scenarios.frozen = {record: frozen, frames_after_freeze: (await state(page)).frames - framesAtFreeze,
    button: await page.locator('#freeze').textContent()};
  const downloads = [];
  const onDownload = (d) => downloads.push(d);
  page.on('download', onDownload);
  await page.getByRole('button', {name: 'Save'}).click();
  const deadline = Date.now() + 20000;
  while (downloads.length < 3 && Date.now() < deadline) await page.waitForTimeout(100);
  for (const d of downloads) {
    const path = join(cfg.out_dir, d.suggestedFilename());
    await d.saveAs(path);
    result.downloads.push({name: d.suggestedFilename(), path, url: d.url().slice(0, 5)});
  }
  log('downloads', result.downloads.map((d) => d.name).join(', '));
  await page.screenshot({path: join(cfg.out_dir, 'screening_page_frozen.png')});
  // Resume screens again.
  const framesFrozen = (await state(page)).frames;
  await page.getByRole('button', {name: 'Resume'}).click();
  await page.waitForFunction((n) => window.edgeseg.phase === 'running' && window.edgeseg.frames > n, framesFrozen, {timeout: 30000, polling: 100});
  result.scenarios.frozen.resumed = true;
  await page.getByRole('button', {name: 'Freeze'}).click();  // idle while the other scenarios run

  // 3. Camera permission denied (another origin, no grant).
  log('camera denied', cfg.denied_url);
  const denied = await openPage(cfg.denied_url);
  result.scenarios.denied = await state(denied);
  await denied.screenshot({path: join(cfg.out_dir, 'denied_page.png')});
  await denied.close();

  // 4. Broken artifacts, each on its own server.
  for (const [name, url] of Object.entries(cfg.error_urls)) {
    log(name, url);
    await context.grantPermissions(['camera'], {origin: new URL(url).origin});
    const p = await openPage(url);
    result.scenarios[name] = await state(p);
    await p.screenshot({path: join(cfg.out_dir, `${name}_page.png`)});
    await p.close();
  }

  // 5. Offline after the first load: the server stops and a reload still screens.
  await page.waitForFunction(() => window.edgeseg.offlineReady === true, null, {timeout: 30000, polling: 200});
  console.log('OFFLINE-READY');
  await stdinLines.next();
  log('server stopped; reloading');
  await page.reload();
  await page.waitForFunction(() => window.edgeseg && ['running', 'error'].includes(window.edgeseg.phase) &&
    (window.edgeseg.phase !== 'running' || window.edgeseg.frames >= 2), null, {timeout: 60000, polling: 100});
  result.scenarios.offline = await state(page);

  await page.close();
}

try {
  await main();
} catch (e) {
  result.error = String(e && e.stack || e);
  log('ERROR', result.error);
} finally {
  result.seconds = (Date.now() - t0) / 1000;
  writeFileSync(join(cfg.out_dir, 'result.json'), JSON.stringify(result, null, 1));
  await context.close();
  log('done');
  process.exit(0);
}
