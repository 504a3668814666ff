// Approvals: the inbox lists the runs waiting at an approval step with their
// rendered messages; a viewer sees the decision refused with the role it
// needs; an operator approves one run from the inbox and rejects the other
// from its run page, and both runs go on with the decision and who made it.
// A decision made elsewhere first shows the host's 409 in the row.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, runWith, screenshot, setup, signIn } from './harness.mjs';

let env;
let wf;
let operator;
let viewer;
let small;
let big;
before(async () => {
  env = await setup();
  operator = await env.host.api('POST', '/api/tokens', { name: 'dana', role: 'operator' });
  viewer = await env.host.api('POST', '/api/tokens', { name: 'auditor', role: 'viewer' });
  wf = await env.host.api('POST', '/api/workflows', {
    name: 'Refunds',
    trigger: { type: 'manual' },
    steps: [
      { id: 'ask', type: 'approval', config: { message: 'Refund {{ event.amount }}?', timeout: '1h', onReject: 'refused' } },
      { id: 'pay', type: 'update-field', config: { set: { paid: true } }, next: 'end' },
      { id: 'refused', type: 'update-field', config: { set: { paid: false } } },
    ],
  });
  await env.host.api('PUT', `/api/workflows/${wf.id}/activate`);
  small = await env.host.api('POST', `/api/workflows/${wf.id}/trigger`, { amount: 40 });
  await waitFor(small.id, 'WAITING');
  big = await env.host.api('POST', `/api/workflows/${wf.id}/trigger`, { amount: 900 });
  await waitFor(big.id, 'WAITING');
});
after(async () => {
  await env?.stop();
});

const waitFor = (id, status) => runWith(env.host, id, status);

const rowOf = (p, runId) => p.getByRole('row').filter({ has: p.getByRole('link', { name: runId, exact: true }) });

test('the inbox lists both waits with their messages; a viewer cannot decide', async () => {
  const w = await openPage(env.browser, env.host);
  try {
    const p = w.page;
    await signIn(w, viewer.token);
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Approvals' }).click();
    await p.getByRole('heading', { name: 'Approvals', level: 1 }).waitFor();
    assert.equal(new URL(p.url()).pathname, '/approvals');

    const first = rowOf(p, small.id);
    const second = rowOf(p, big.id);
    await first.getByRole('cell', { name: 'Refund 40?', exact: true }).waitFor();
    await second.getByRole('cell', { name: 'Refund 900?', exact: true }).waitFor();
    // Oldest first; the workflow links to the editor, the run to its page.
    const order = await p.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.innerText));
    assert.equal(order.length, 2);
    assert.match(order[0], /Refund 40\?/);
    assert.equal(await first.getByRole('link', { name: 'Refunds' }).getAttribute('href'), `/workflows/${wf.id}`);
    assert.equal(await first.getByRole('link', { name: small.id }).getAttribute('href'), `/runs/${small.id}`);
    await first.getByRole('cell', { name: 'ask', exact: true }).waitFor();

    // Refused but focusable, described by the role it needs; pressing it sends nothing.
    let writes = 0;
    p.on('request', (r) => {
      if (r.method() === 'POST' && /\/(approve|reject)$/.test(new URL(r.url()).pathname)) writes += 1;
    });
    for (const name of [`Approve run ${small.id} at step ask`, `Reject run ${small.id} at step ask`]) {
      const button = first.getByRole('button', { name });
      await button.waitFor();
      assert.equal(await button.getAttribute('aria-disabled'), 'true');
      const described = await button.evaluate((el) =>
        (el.getAttribute('aria-describedby') ?? '')
          .split(/\s+/)
          .map((id) => document.getElementById(id)?.textContent ?? '')
          .join(' '),
      );
      assert.match(described, /needs the operator role \(you are viewer\)/i);
      await button.focus();
      await p.keyboard.press('Enter');
    }
    assert.equal(await first.getByLabel(`Comment on run ${small.id} at step ask (optional)`).isDisabled(), true);
    assert.equal(writes, 0, 'no decision was sent');
    assert.equal(await p.getByRole('status').count(), 0);

    // The run page shows the same refused controls.
    await first.getByRole('link', { name: small.id }).click();
    const panel = p.getByRole('region', { name: 'Waiting for an approval' });
    await panel.getByText('Refund 40?').waitFor();
    assert.equal(await panel.getByRole('button', { name: `Approve run ${small.id} at step ask` }).getAttribute('aria-disabled'), 'true');
    await panel.getByText('Needs the operator role (you are viewer).').waitFor();
    assert.equal(writes, 0);
    await w.axe('run page waiting for an approval, as viewer');
    await w.check();
  } finally {
    await w.close();
  }
});

test('an operator approves from the inbox and rejects from the run page', async () => {
  const w = await openPage(env.browser, env.host);
  try {
    const p = w.page;
    await signIn(w, operator.token);
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Approvals' }).click();
    const first = rowOf(p, small.id);
    await first.getByRole('cell', { name: 'Refund 40?', exact: true }).waitFor();
    await rowOf(p, big.id).waitFor();
    await first.getByLabel(`Comment on run ${small.id} at step ask (optional)`).fill('within budget');
    await w.axe('approvals inbox');
    await screenshot(p, 'approvals.png');

    await first.getByRole('button', { name: `Approve run ${small.id} at step ask` }).click();
    await p.getByRole('status').filter({ hasText: `Approved by dana (run ${small.id}, step ask).` }).waitFor();
    await first.waitFor({ state: 'detached' });
    await rowOf(p, big.id).waitFor();

    // The other one from its run page.
    await rowOf(p, big.id).getByRole('link', { name: big.id }).click();
    await p.waitForURL(`**/runs/${big.id}`);
    const panel = p.getByRole('region', { name: 'Waiting for an approval' });
    await panel.getByText('Refund 900?').waitFor();
    await w.axe('run page waiting for an approval');
    await panel.getByLabel(`Comment on run ${big.id} at step ask (optional)`).fill('too much');
    await panel.getByRole('button', { name: `Reject run ${big.id} at step ask` }).click();
    await p.getByRole('status').filter({ hasText: `Rejected by dana (run ${big.id}, step ask).` }).waitFor();
    await p.locator('.page-head .badge', { hasText: 'COMPLETED' }).waitFor({ timeout: 30_000 });
    assert.equal(await panel.count(), 0, 'the panel is gone');

    // The decisions are the step's output; a rejection went to onReject.
    const approved = await waitFor(small.id, 'COMPLETED');
    assert.equal(approved.context.steps.ask.decision, 'approved');
    assert.equal(approved.context.steps.ask.by, 'dana');
    assert.equal(approved.context.steps.ask.comment, 'within budget');
    assert.equal(approved.context.vars.paid, true);
    const rejected = await waitFor(big.id, 'COMPLETED');
    assert.equal(rejected.context.steps.ask.decision, 'rejected');
    assert.equal(rejected.context.steps.ask.by, 'dana');
    assert.equal(rejected.context.steps.ask.comment, 'too much');
    assert.equal(rejected.context.vars.paid, false);

    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Approvals' }).click();
    await p.getByText('Nothing is waiting for an approval.').waitFor();
    await w.check();
  } finally {
    await w.close();
  }
});

test('a wait decided elsewhere first shows the host’s 409 in its row', async () => {
  const w = await openPage(env.browser, env.host);
  try {
    const p = w.page;
    await signIn(w, operator.token);
    await w.goto('/approvals');
    await p.getByText('Nothing is waiting for an approval.').waitFor();
    // Started after the page loaded: the run stream brings it in.
    const late = await env.host.api('POST', `/api/workflows/${wf.id}/trigger`, { amount: 5 });
    const row = rowOf(p, late.id);
    await row.getByRole('cell', { name: 'Refund 5?', exact: true }).waitFor();
    // Someone approves it just before this page's request reaches the host.
    await p.route(`**/api/workflow-runs/${late.id}/approve`, async (route) => {
      await env.host.api('POST', `/api/workflow-runs/${late.id}/approve`, { comment: 'by phone' });
      await route.continue();
    });
    await row.getByRole('button', { name: `Approve run ${late.id} at step ask` }).click();
    await row.getByRole('alert').filter({ hasText: 'the run is not waiting for a decision at step `ask`' }).waitFor();
    assert.equal(await p.getByRole('status').count(), 0, 'nothing was recorded from this page');
    await w.axe('approvals inbox with a conflict');
    await row.getByRole('button', { name: `Dismiss run ${late.id}` }).click();
    await p.getByText('Nothing is waiting for an approval.').waitFor();
    const done = await waitFor(late.id, 'COMPLETED');
    assert.equal(done.context.steps.ask.comment, 'by phone');
    assert.notEqual(done.context.steps.ask.by, 'dana');
    await w.check();
  } finally {
    await w.close();
  }
});
