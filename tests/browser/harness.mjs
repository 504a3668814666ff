// Shared set-up of the browser tests: a `weft` host on a loopback port with a
// temporary database, headless Chromium driven by playwright-core, and pages
// that fail the test on any console error, page error, request that leaves
// the loopback interface, or serious/critical axe-core violation.
//
// Environment (set by the Rust test driver; defaults for running by hand):
//   WEFT_BIN              the weft binary
//   WEFT_BROWSER_DEPS     folder whose node_modules holds playwright-core and axe-core
//   WEFT_CHROMIUM         the browser (default /usr/bin/chromium)
//   WEFT_PLUGIN_WASM_DIR  folder of the test plugin .wasm files
//   WEFT_SCREENSHOT_DIR   where screenshots go (default docs/screenshots)

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
const depsDir = process.env.WEFT_BROWSER_DEPS ?? path.join(repoRoot, 'target', 'browser-deps');
const require = createRequire(path.join(depsDir, 'package.json'));
const { chromium } = require('playwright-core');
const axe = require('axe-core');

export const TOKEN = 'browser-test-token';
export const pluginDir =
  process.env.WEFT_PLUGIN_WASM_DIR ?? path.join(repoRoot, 'target', 'plugins', 'wasm32-wasip2', 'release');
export const screenshotDir = path.resolve(repoRoot, process.env.WEFT_SCREENSHOT_DIR ?? 'docs/screenshots');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts weft; resolves once it prints `weft listening on`. */
export async function startHost({ env = {} } = {}) {
  const bin = process.env.WEFT_BIN;
  if (!bin) throw new Error('WEFT_BIN must name the weft binary');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'weft-browser-'));
  // Compiled plugin code is cached by content hash: one cache for all tests.
  const cache = path.join(os.tmpdir(), 'weft-browser-cache');
  mkdirSync(cache, { recursive: true });
  const port = await freePort();
  const child = spawn(
    bin,
    ['serve', '--addr', `127.0.0.1:${port}`, '--database-url', `sqlite://${dir}/weft.db`, '--cache-dir', cache],
    {
      env: { ...process.env, WEFT_ADMIN_TOKEN: TOKEN, RUST_LOG: process.env.RUST_LOG ?? 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk.toString()).slice(-20000);
  };
  child.stderr.on('data', keep);
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`weft did not start in 120 s:\n${output}`)), 120_000);
    child.stdout.on('data', (chunk) => {
      keep(chunk);
      if (output.includes('weft listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`weft exited with ${code} before listening:\n${output}`));
    });
  });
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    port,
    output: () => output,
    /** The API with the admin token, for set-up. */
    api: async (method, urlPath, body, headers = {}) => {
      const init = { method, headers: { Authorization: `Bearer ${TOKEN}`, ...headers } };
      if (body !== undefined) {
        init.headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(body);
      }
      const r = await fetch(base + urlPath, init);
      const text = await r.text();
      const json = text ? JSON.parse(text) : null;
      if (!r.ok) throw new Error(`${method} ${urlPath}: ${r.status} ${text}`);
      return json;
    },
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.WEFT_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * A browser context and page watched for problems. `problems` lists every
 * console error, page error, outside request and axe violation; `check()`
 * throws if there is any.
 */
export async function openPage(browser, host, { context: shared } = {}) {
  const context = shared ?? (await browser.newContext({ viewport: { width: 1280, height: 800 } }));
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const problems = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const where = msg.location().url ?? '';
    // Chromium logs every 4xx answer as "Failed to load resource". An API
    // answer of 4xx is part of the conversation (401 before sign-in, 409 on
    // a conflict, 422 on an invalid definition), shown by the page itself.
    if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(msg.text()) && new URL(where, host.base).pathname.startsWith('/api/')) return;
    problems.push(`console error: ${msg.text()} (${where})`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  await page.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if ((u.protocol === 'http:' || u.protocol === 'https:') && LOOPBACK.has(u.hostname)) return route.continue();
    if (u.protocol === 'data:' || u.protocol === 'blob:') return route.continue();
    problems.push(`request outside the host: ${u.href}`);
    return route.abort();
  });
  const visited = new Set();
  const w = {
    page,
    context,
    problems,
    url: (p) => host.base + p,
    goto: async (p) => {
      await page.goto(host.base + p);
    },
    /** Runs axe-core on the page as it is; records serious and critical violations. */
    axe: async (label = page.url()) => {
      await page.evaluate(axe.source);
      const result = await page.evaluate(async () => {
        // eslint-disable-next-line no-undef
        const r = await window.axe.run(document, { resultTypes: ['violations'] });
        return r.violations.map((v) => ({
          id: v.id,
          impact: v.impact,
          help: v.help,
          nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
        }));
      });
      for (const v of result) {
        if (v.impact === 'serious' || v.impact === 'critical')
          problems.push(`axe ${v.impact} ${v.id} on ${label}: ${v.help} at ${v.nodes.join(', ')}`);
      }
      visited.add(new URL(page.url()).pathname);
    },
    /** Runs axe on the page as it is now, then fails on any problem seen. */
    check: async () => {
      await w.axe(`${new URL(page.url()).pathname} (at the end)`);
      if (problems.length) throw new Error(`problems on the page:\n  ${problems.join('\n  ')}`);
    },
    close: async () => {
      // The last state of every page, for a look after a failure.
      const dir = path.join(os.tmpdir(), 'weft-browser-last');
      mkdirSync(dir, { recursive: true });
      await page.screenshot({ path: path.join(dir, `${Date.now()}.png`) }).catch(() => {});
      if (!shared) await context.close();
      else await page.close();
    },
  };
  return w;
}

/** Signs in through the sign-in page. */
export async function signIn(w, token = TOKEN) {
  await w.goto('/signin');
  await w.page.getByLabel('API token').fill(token);
  await w.page.getByRole('button', { name: 'Sign in' }).click();
  await w.page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
}

/**
 * A webhook receiver on 127.0.0.1 that answers 500 to the first request of
 * each path and 200 after that (start weft with WEFT_HTTP_ALLOW=127.0.0.1).
 */
export async function startReceiver() {
  const seen = new Map();
  const requests = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const n = (seen.get(req.url) ?? 0) + 1;
      seen.set(req.url, n);
      requests.push({ url: req.url, method: req.method, body, n });
      if (n === 1) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'first try fails' }));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true, attempt: n }));
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** Everything a test file needs, torn down by `env.stop()`. */
export async function setup(options = {}) {
  const host = await startHost(options);
  let browser;
  try {
    browser = await launchBrowser();
  } catch (e) {
    await host.stop();
    throw e;
  }
  return {
    host,
    browser,
    stop: async () => {
      await browser.close().catch(() => {});
      await host.stop();
    },
  };
}

export async function screenshot(page, name) {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, name) });
}

/** Drags the mouse from one element's center to another's, in steps. */
export async function dragBetween(page, from, to, { steps = 12 } = {}) {
  const a = await from.boundingBox();
  const b = await to.boundingBox();
  if (!a || !b) throw new Error('drag: an element is not visible');
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps });
  await page.mouse.up();
}

// The run `id` once its status is `status`, polled through the API.
export async function runWith(host, id, status, timeout = 30_000) {
  const until = Date.now() + timeout;
  for (;;) {
    const run = await host.api('GET', `/api/workflow-runs/${id}`);
    if (run.status === status) return run;
    if (Date.now() > until) throw new Error(`run ${id} is ${run.status}, not ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// The value of an input once it reads `expected`, or what it reads after
// `timeout` ms: React applies a click's state on a later frame.
export async function settledValue(locator, expected, timeout = 5000) {
  const until = Date.now() + timeout;
  let value = await locator.inputValue();
  while (value !== expected && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    value = await locator.inputValue();
  }
  return value;
}
