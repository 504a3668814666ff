// Browser benchmark of the web UI (run by hand, not a test):
//   WEFT_BIN=target/release/weft node tests/browser/bench.mjs
// Prints: time to first render of a 200-step workflow in the editor, frame
// times while dragging one of its nodes, and the runs list's first and next
// page with 10,000 runs in the database.

import { launchBrowser, openPage, signIn, startHost } from './harness.mjs';

const STEPS = Number(process.env.BENCH_STEPS ?? 200);
const RUNS = Number(process.env.BENCH_RUNS ?? 10_000);
const BATCH = 50;

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (x) => `${x.toFixed(1)} ms`;

const host = await startHost();
const browser = await launchBrowser();
try {
  const steps = [];
  const nodes = {};
  for (let i = 1; i <= STEPS; i++) {
    steps.push({ id: `s${i}`, type: 'update-field', config: { set: { [`f${i}`]: i } } });
    nodes[`s${i}`] = { x: ((i - 1) % 10) * 240, y: 120 + Math.floor((i - 1) / 10) * 110 };
  }
  const big = await host.api('POST', '/api/workflows', {
    name: `${STEPS} steps`,
    trigger: { type: 'manual' },
    steps,
    layout: { nodes },
  });

  const w = await openPage(browser, host);
  await signIn(w);
  const p = w.page;

  // Editor: first render, cold and warm (the lazy chunks cached).
  const renders = [];
  for (let i = 0; i < 3; i++) {
    await p.goto(w.url(`/workflows/${big.id}`));
    await p.waitForFunction((n) => document.querySelectorAll('.react-flow__node-step').length >= n, Math.min(STEPS, 50), {
      timeout: 60_000,
    });
    await p.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    renders.push(await p.evaluate(() => performance.now()));
  }
  const rendered = await p.evaluate(() => document.querySelectorAll('.react-flow__node').length);

  // requestAnimationFrame deltas while the mouse drags from the center of `locator`.
  const dragFrames = async (locator, at) => {
    const b = await locator.boundingBox();
    // From `at` (a point in the element), else its center.
    const box = at ? { x: b.x + at.x, y: b.y + at.y, width: 0, height: 0 } : b;
    await p.evaluate(() => {
    window.__frames = [];
    let last = performance.now();
    window.__recording = true;
    const tick = (t) => {
      window.__frames.push(t - last);
      last = t;
      if (window.__recording) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
    await p.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await p.mouse.down();
    for (let i = 1; i <= 120; i++) {
      await p.mouse.move(box.x + box.width / 2 + i * 3, box.y + box.height / 2 + Math.sin(i / 8) * 60);
    }
    await p.mouse.up();
    return p.evaluate(() => {
      window.__recording = false;
      return window.__frames.slice(2);
    });
  };
  const frames = await dragFrames(p.locator('.react-flow__node[data-id="s55"]'));
  // Panning from the pane's left edge, where no node is: the same drawing work
  // without the editor's store, as a baseline.
  const panFrames = await dragFrames(p.locator('.react-flow__pane'), { x: 4, y: 200 });

  // Runs: RUNS runs of a one-step workflow.
  const small = await host.api('POST', '/api/workflows', {
    name: 'bench runs',
    trigger: { type: 'manual' },
    steps: [{ id: 'mark', type: 'update-field', config: { set: { done: true } } }],
  });
  await host.api('PUT', `/api/workflows/${small.id}/activate`);
  const t0 = Date.now();
  for (let i = 0; i < RUNS; i += BATCH) {
    const n = Math.min(BATCH, RUNS - i);
    await Promise.all(Array.from({ length: n }, () => host.api('POST', `/api/workflows/${small.id}/trigger`, {})));
  }
  const created = (Date.now() - t0) / 1000;

  const listTimes = [];
  for (let i = 0; i < 3; i++) {
    await p.goto(w.url('/runs'));
    await p.getByRole('navigation', { name: 'Run pages' }).waitFor({ timeout: 60_000 });
    await p.locator('.runs-table tbody tr').nth(49).waitFor();
    listTimes.push(await p.evaluate(() => performance.now()));
  }
  const nextTimes = [];
  for (let i = 0; i < Math.min(5, Math.ceil(RUNS / 50) - 1); i++) {
    const first = await p.locator('.runs-table tbody tr a').first().innerText();
    const start = Date.now();
    await p.getByRole('button', { name: 'Next page' }).click();
    await p.waitForFunction(
      (prev) => document.querySelector('.runs-table tbody tr a')?.textContent !== prev,
      first,
    );
    nextTimes.push(Date.now() - start);
  }
  const total = await p.locator('.pager span').innerText();

  console.log(`editor, ${STEPS} steps (${rendered} nodes drawn):`);
  console.log(`  first render after navigation: cold ${ms(renders[0])}, warm ${ms(renders[1])} / ${ms(renders[2])}`);
  console.log(`  frame time while dragging a node: p50 ${ms(pct(frames, 50))}, p95 ${ms(pct(frames, 95))}, max ${ms(Math.max(...frames))} (${frames.length} frames)`);
  console.log(`  frame time while panning the canvas: p50 ${ms(pct(panFrames, 50))}, p95 ${ms(pct(panFrames, 95))} (${panFrames.length} frames)`);
  console.log(`runs list with ${RUNS} runs (made in ${created.toFixed(1)} s, ${(RUNS / created).toFixed(0)}/s): ${total}`);
  console.log(`  first page (50 rows) after navigation: ${listTimes.map(ms).join(', ')}`);
  console.log(`  next page: p50 ${ms(pct(nextTimes, 50))}, max ${ms(Math.max(...nextTimes))}`);
  if (w.problems.length) console.log(`problems seen:\n  ${w.problems.join('\n  ')}`);
  await w.close();
} finally {
  await browser.close();
  await host.stop();
}
