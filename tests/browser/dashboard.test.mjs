// The dashboard in a real browser: Debian's chromium (headless) driven by
// Playwright, against a real dc-api, a real dc-manager and a private
// RabbitMQ node this test starts, kills and starts again.
//
//   node --test dashboard.test.mjs
//
// Environment: DC_API_BIN, DC_MANAGER_BIN, DCCTL_BIN (the programs),
// DC_SOURCE_DIR (the repository), DC_BROWSER_RABBIT_PORT (the private
// broker's AMQP port), optionally CHROMIUM (default /usr/bin/chromium) and
// DC_SCREENSHOT_DIR (save screenshots of the dashboard there).
import assert from 'node:assert/strict';
import {spawn, spawnSync} from 'node:child_process';
import {mkdtempSync, readFileSync, rmSync, mkdirSync, openSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {after, before, test} from 'node:test';
import {chromium} from 'playwright-core';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const apiBin = env('DC_API_BIN');
const managerBin = env('DC_MANAGER_BIN');
const dcctlBin = env('DCCTL_BIN');
const sourceDir = env('DC_SOURCE_DIR');
const rabbitPort = Number(env('DC_BROWSER_RABBIT_PORT'));
const chromiumPath = env('CHROMIUM', '/usr/bin/chromium');
const screenshotDir = process.env.DC_SCREENSHOT_DIR || '';

const HOSTILE_ID = '<img src=x onerror=alert(1)>';
const dir = mkdtempSync(join(tmpdir(), 'dc-browser-'));
const children = [];
let apiUrl = '';
let operatorToken = '';
let viewerToken = '';
let browser;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function baseEnv(extra = {}) {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
    HOME: dir,
    DC_DB_URL: `sqlite://${dir}/dc.sqlite3`,
    DC_RABBIT_HOST: '127.0.0.1',
    DC_RABBIT_PORT: String(rabbitPort),
    DC_RABBIT_EXCHANGE: 'dc_browser_test',
    DC_RABBIT_HEARTBEAT: '2',
    DC_POLL_INTERVAL: '0.5',
    DC_STOP_TIMEOUT: '5',
    DC_LOG_DIR: `${dir}/logs`,
    DC_API_TOKENS_FILE: `${dir}/tokens`,
    DC_LEASE_TTL: '6',
    ...extra,
  };
}

function run(argv, extra = {}) {
  const result = spawnSync(argv[0], argv.slice(1), {env: baseEnv(extra), cwd: dir, encoding: 'utf8', timeout: 120000});
  if (result.status !== 0) {
    throw new Error(`${argv.join(' ')} exited ${result.status}: ${result.stdout}${result.stderr}`);
  }
  return result.stdout;
}

function broker(verb) {
  run([`${sourceDir}/scripts/rabbitmq-local.sh`, verb], {DC_SERVICES_DIR: `${dir}/services`});
}

function startProcess(argv, logName, extra = {}) {
  const log = openSync(join(dir, logName), 'a');
  const child = spawn(argv[0], argv.slice(1), {env: baseEnv(extra), cwd: dir, stdio: ['ignore', log, log]});
  children.push(child);
  return child;
}

async function waitFor(what, check, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function newPage(token) {
  const context = await browser.newContext({viewport: {width: 1280, height: 1000}});
  const page = await context.newPage();
  const problems = [];
  page.on('dialog', (dialog) => {
    problems.push(`a dialog opened: ${dialog.message()}`);
    dialog.dismiss();
  });
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/.test(message.text())) {
      problems.push(`console: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  await page.goto(apiUrl + '/');
  await page.fill('#token', token);
  await page.click('#sign-in-form button[type=submit]');
  await page.waitForSelector('#board:not([hidden])');
  return {page, problems};
}

const row = (page, appId) => page.locator(`#apps tbody tr[data-app="${appId.replaceAll('"', '\\"')}"]`);
const managerMode = (page, name) =>
  page.locator(`#managers tbody tr[data-manager="${name}"] [data-mode]`).getAttribute('data-mode');

before(async () => {
  mkdirSync(`${dir}/logs`, {recursive: true});
  broker('start');
  run([dcctlBin, 'db', 'init']);
  run([dcctlBin, 'apps', 'add', 'collector', '--manager', 'm1', '--exec',
    JSON.stringify([`${sourceDir}/examples/collector`])]);
  run([dcctlBin, 'apps', 'add', 'nightly', '--manager', 'm1', '--exec', '["/bin/sleep","30"]',
    '--schedule', '30 2 * * *', '--name', '<b>Nightly</b> & "friends"']);
  // A row no validation would let in, as another tool could write it: the
  // dashboard must show it as text all the same.
  run(['sqlite3', `${dir}/dc.sqlite3`,
    `INSERT INTO apps (app_id, name, manager, exec, status) VALUES ('${HOSTILE_ID}', '<script>alert(2)</script>', ` +
    `'m1', '["/bin/true"]', 'STOPPED')`]);
  operatorToken = run([apiBin, 'token', 'add', 'ops', '--role', 'operator', '--quiet']).trim();
  viewerToken = run([apiBin, 'token', 'add', 'watcher', '--role', 'viewer', '--quiet']).trim();
  startProcess([managerBin], 'manager.log', {DC_RABBIT_QUEUE: 'm1'});
  startProcess([apiBin], 'api.log', {DC_API_LISTEN: '127.0.0.1:0'});
  apiUrl = await waitFor('dc-api to serve', () => {
    const match = /serving on (http:\/\/[^ ]+)/.exec(readFileSync(join(dir, 'api.log'), 'utf8'));
    return match ? match[1] : null;
  });
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
});

after(async () => {
  if (browser) await browser.close();
  for (const child of children) child.kill('SIGTERM');
  await sleep(500);
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  try {
    broker('stop');
  } catch (e) {
    // already down
  }
  rmSync(dir, {recursive: true, force: true});
});

test('sign in, START an app and see it RUNNING without a reload, then STOP it', async () => {
  const {page, problems} = await newPage(operatorToken);
  await waitFor('manager m1 in broker mode', async () => (await managerMode(page, 'm1')) === 'broker');
  await assert.doesNotReject(row(page, 'collector').waitFor());
  // The args editor refuses invalid JSON before anything is sent.
  await row(page, 'collector').locator('button[data-command="START"]').click();
  await page.waitForSelector('#confirm[open]');
  await page.fill('#args', '{"company_id": ');
  assert.match(await page.textContent('#args-error'), /Not valid JSON/);
  assert.equal(await page.isDisabled('#confirm-ok'), true);
  await page.fill('#args', '["not", "an object"]');
  assert.match(await page.textContent('#args-error'), /JSON object/);
  await page.fill('#args', '{"company_id": "123456"}');
  assert.equal(await page.textContent('#args-error'), '');
  await page.click('#confirm-ok');
  await waitFor('collector RUNNING', async () =>
    (await row(page, 'collector').locator('.status').textContent()) === 'RUNNING');
  assert.match(await row(page, 'collector').locator('.last-command').textContent(), /START\s*EXECUTED/);
  assert.match(await row(page, 'collector').locator('.last-command').textContent(), /via broker, by ops/);
  // The history shows who, what and the outcome.
  await row(page, 'collector').locator('button', {hasText: 'History'}).click();
  await page.waitForSelector('#history-panel:not([hidden])');
  await waitFor('history row', async () => (await page.locator('#history tbody tr').count()) > 0);
  assert.match(await page.locator('#history tbody tr').first().textContent(), /START.*ops.*EXECUTED.*broker/);
  if (screenshotDir) await page.screenshot({path: join(screenshotDir, 'dashboard.png'), fullPage: true});
  // STOP, confirmed with the keyboard.
  await row(page, 'collector').locator('button[data-command="STOP"]').focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector('#confirm[open]');
  await page.keyboard.press('Enter');  // the focused Send button
  await waitFor('collector STOPPED', async () =>
    (await row(page, 'collector').locator('.status').textContent()) === 'STOPPED');
  // Escape cancels: nothing is sent.
  const before = (await page.locator('#history tbody tr').count());
  await row(page, 'collector').locator('button[data-command="RESTART"]').click();
  await page.waitForSelector('#confirm[open]');
  await page.keyboard.press('Escape');
  await sleep(1000);
  assert.equal(await page.locator('#history tbody tr').count(), before);
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('the broker killed: the manager badge turns to fallback, then back to broker', async () => {
  const {page, problems} = await newPage(operatorToken);
  await waitFor('broker mode', async () => (await managerMode(page, 'm1')) === 'broker');
  broker('kill');
  await waitFor('fallback mode', async () => (await managerMode(page, 'm1')) === 'fallback', 45000);
  if (screenshotDir) await page.screenshot({path: join(screenshotDir, 'dashboard-fallback.png'), fullPage: true});
  // A command issued now is stored and runs through the database.
  await row(page, 'collector').locator('button[data-command="START"]').click();
  await page.waitForSelector('#confirm[open]');
  await page.click('#confirm-ok');
  await waitFor('collector RUNNING via poll', async () =>
    /via poll/.test(await row(page, 'collector').locator('.last-command').textContent()), 30000);
  broker('start');
  await waitFor('broker mode again', async () => (await managerMode(page, 'm1')) === 'broker', 90000);
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('a viewer sees no action buttons and the API refuses its POST', async () => {
  const {page, problems} = await newPage(viewerToken);
  await row(page, 'collector').waitFor();
  assert.match(await page.textContent('#who'), /watcher \(viewer\)/);
  assert.equal(await page.locator('button[data-command]').count(), 0);
  assert.equal(await page.isHidden('#broadcast-panel'), true);
  const status = await page.evaluate(async (token) => {
    const res = await fetch('/api/v1/commands', {
      method: 'POST',
      headers: {'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json'},
      body: JSON.stringify({app_id: 'collector', command: 'STOP'}),
    });
    return res.status;
  }, viewerToken);
  assert.equal(status, 403);
  if (screenshotDir) await page.screenshot({path: join(screenshotDir, 'dashboard-viewer.png'), fullPage: true});
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('an app id holding markup renders as text', async () => {
  const {page, problems} = await newPage(operatorToken);
  const hostile = row(page, HOSTILE_ID);
  await hostile.waitFor();
  assert.equal(await hostile.locator('.app-id').textContent(), HOSTILE_ID);
  assert.match(await hostile.textContent(), /<script>alert\(2\)<\/script>/);
  assert.match(await row(page, 'nightly').textContent(), /<b>Nightly<\/b> & "friends"/);
  assert.equal(await page.locator('#apps img, #apps script, #apps b').count(), 0);
  // The search box is text too.
  await page.fill('#search', '<img');
  await waitFor('filtered', async () => (await page.locator('#apps tbody tr').count()) === 1);
  assert.deepEqual(problems, []);
  await page.context().close();
});
