import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, screenshot, setup, signIn, startReceiver } from './harness.mjs';

let env;
let receiver;
before(async () => {
  receiver = await startReceiver();
  env = await setup({ env: { WEFT_HTTP_ALLOW: '127.0.0.1' } });
});
after(async () => {
  await env?.stop();
  await receiver?.stop();
});

async function workflow(name, steps) {
  const w = await env.host.api('POST', '/api/workflows', { name, trigger: { type: 'manual' }, steps });
  await env.host.api('PUT', `/api/workflows/${w.id}/activate`);
  return w;
}

test('a run started from the editor goes live to COMPLETED, with a retry shown as a second attempt', async () => {
  const wf = await workflow('Call a hook', [
    {
      id: 'call',
      type: 'webhook',
      config: { url: `${receiver.url}/flaky`, body: { hello: '{{ event.name }}' } },
      retry: { maxAttempts: 3, backoffMs: 100 },
    },
    // An output over the host's inline limit (16 KiB): loaded when opened.
    { id: 'mark', type: 'update-field', config: { set: { done: true, blob: 'x'.repeat(20_000) } } },
  ]);
  const w = await openPage(env.browser, env.host);
  try {
    await signIn(w);
    await w.goto(`/workflows/${wf.id}`);
    const p = w.page;
    await p.getByRole('button', { name: 'Run now' }).click();
    const dialog = p.getByRole('dialog', { name: 'Run now' });
    await dialog.getByLabel(/Payload/).fill('{ "name": "Ada" }');
    await w.axe('run dialog');
    await dialog.getByRole('button', { name: 'Start run' }).click();
    await p.waitForURL(/\/runs\/[^/]+$/);
    const runId = p.url().split('/').pop();
    // Watched without reloading: a marker on the window survives only in the same document.
    await p.evaluate(() => {
      window.__sameDocument = true;
    });
    await p.locator('.page-head .badge', { hasText: 'COMPLETED' }).waitFor({ timeout: 30_000 });
    assert.equal(await p.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');

    const timeline = p.getByRole('table').filter({ has: p.getByRole('columnheader', { name: 'Peak memory' }) });
    const rows = timeline.getByRole('row').filter({ has: p.getByRole('cell', { name: 'call', exact: true }) });
    await rows.nth(1).waitFor();
    assert.equal(await rows.count(), 2);
    assert.match(await rows.nth(0).innerText(), /failed, will retry/);
    assert.match(await rows.nth(1).innerText(), /completed/);
    await p.locator('.react-flow__node[data-id="call"].state-completed, .react-flow__node[data-id="call"] .state-completed').first().waitFor();

    await p.getByRole('button', { name: 'Show output of call attempt 1' }).click();
    await p.getByLabel('Output of call attempt 1').filter({ hasText: '500' }).waitFor();
    await p.getByRole('button', { name: 'Show output of call attempt 2' }).click();
    const output = p.getByLabel('Output of call attempt 2');
    await output.filter({ hasText: '"status": 200' }).waitFor();
    const shownRun = await env.host.api('GET', `/api/workflow-runs/${runId}`);
    assert.equal(shownRun.logs.find((l) => l.step === 'mark').resultTruncated, true);
    const lazy = p.waitForRequest((r) => /\/api\/workflow-runs\/[^/]+\/logs\//.test(r.url()));
    await p.getByRole('button', { name: 'Show output of mark attempt 1' }).click();
    await lazy;
    await p.getByLabel('Output of mark attempt 1').filter({ hasText: 'xxxxxxxxxx' }).waitFor();
    await p.getByRole('button', { name: 'Show output of call attempt 2' }).click();
    await output.filter({ hasText: '"status": 200' }).waitFor();
    await w.axe('run page');
    await screenshot(p, 'run.png');
    assert.equal(receiver.requests.filter((r) => r.url === '/flaky').length, 2);

    // The runs list, filtered, shows it.
    await p.getByRole('link', { name: 'Runs', exact: true }).click();
    await p.getByRole('heading', { name: 'Runs', level: 1 }).waitFor();
    await p.getByRole('link', { name: runId }).waitFor();
    await p.getByLabel('Status').selectOption('FAILED');
    await p.getByText('No runs match.').waitFor();
    await p.getByLabel('Status').selectOption('COMPLETED');
    await p.getByLabel('Workflow').selectOption({ label: 'Call a hook' });
    await p.getByRole('link', { name: runId }).waitFor();
    await w.axe('runs list');
    await w.check();
  } finally {
    await w.close();
  }
});

test('the runs list and the dashboard update live; a failed run is retried from its page', async () => {
  const wf = await workflow('Fails once', [
    { id: 'call', type: 'webhook', config: { url: `${receiver.url}/once` } },
  ]);
  const w = await openPage(env.browser, env.host);
  try {
    await signIn(w);
    const p = w.page;
    await p.getByRole('link', { name: 'Runs', exact: true }).click();
    await p.getByRole('heading', { name: 'Runs', level: 1 }).waitFor();
    // Started elsewhere: the list shows it without a reload.
    const run = await env.host.api('POST', `/api/workflows/${wf.id}/trigger`, {});
    const row = p.getByRole('row').filter({ has: p.getByRole('link', { name: run.id }) });
    await row.filter({ hasText: 'FAILED' }).waitFor({ timeout: 30_000 });

    await p.getByRole('link', { name: run.id }).click();
    await p.locator('.page-head .badge', { hasText: 'FAILED' }).waitFor();
    await p.locator('.react-flow__node[data-id="call"].state-failed, .react-flow__node[data-id="call"] .state-failed').first().waitFor();
    await p.getByRole('button', { name: 'Retry run' }).click();
    await p.locator('.page-head .badge', { hasText: 'COMPLETED' }).waitFor({ timeout: 30_000 });

    await p.getByRole('link', { name: 'Dashboard' }).click();
    const wfRow = p.getByRole('row').filter({ has: p.getByRole('link', { name: 'Fails once' }) });
    await wfRow.filter({ hasText: 'COMPLETED' }).waitFor();
    await w.axe('dashboard with runs');
    await w.check();
  } finally {
    await w.close();
  }
});

test('the dashboard shows runs, today’s counts and notifications live', async () => {
  const wf = await workflow('Tells', [{ id: 'tell', type: 'notification', config: { title: 'Hello from a run' } }]);
  const w = await openPage(env.browser, env.host);
  try {
    await signIn(w);
    const p = w.page;
    const row = p.getByRole('row').filter({ has: p.getByRole('link', { name: 'Tells' }) });
    await row.waitFor();
    const run = await env.host.api('POST', `/api/workflows/${wf.id}/trigger`, {});
    await p.getByRole('region', { name: 'Notifications' }).getByText('Hello from a run', { exact: true }).first().waitFor({ timeout: 30_000 });
    await p.getByRole('region', { name: 'Recent runs' }).getByRole('link', { name: run.id.slice(0, 12) }).waitFor();
    await row.filter({ hasText: 'COMPLETED' }).waitFor();
    await row.getByRole('cell', { name: '1', exact: true }).first().waitFor();
    await p.getByRole('button', { name: 'Mark “Hello from a run” read' }).click();
    await p.getByRole('button', { name: 'Mark “Hello from a run” read' }).waitFor({ state: 'detached' });
    await w.axe('dashboard, live');
    await w.check();
  } finally {
    await w.close();
  }
});
