// Loops and child runs in the web UI: a `for-each` step is a group on the
// canvas whose body takes steps from the inspector, saved as its `steps`;
// a run that called another workflow links to its child, and the child back
// to the run that called it.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, runWith, screenshot, setup, signIn } from './harness.mjs';

let env;
before(async () => {
  env = await setup();
});
after(async () => {
  await env?.stop();
});

const node = (page, id) => page.locator(`.react-flow__node[data-id="${id}"]`);

const waitFor = (id, status) => runWith(env.host, id, status);

test('a for-each step is a group whose body is saved as its steps, and a run of it completes', async () => {
  const created = await env.host.api('POST', '/api/workflows', {
    name: 'Per item',
    trigger: { type: 'manual' },
    steps: [{ id: 'start', type: 'update-field', config: { set: { started: true } } }],
  });
  const w = await openPage(env.browser, env.host);
  try {
    await signIn(w);
    await w.goto(`/workflows/${created.id}`);
    const p = w.page;
    await node(p, 'start').waitFor();
    await p.getByRole('button', { name: 'Add for-each step' }).click();
    await node(p, 'for-each-1').waitFor();
    await p.getByRole('heading', { name: 'Step for-each-1' }).waitFor();
    // Its config form (items, concurrency) and its body, side by side.
    await p.getByLabel(/^items/).fill('{{ event.skus }}');
    await p.getByRole('group', { name: 'Steps run for each item' }).waitFor();
    await p.getByLabel('Step type to add').selectOption('update-field');
    await p.getByRole('button', { name: 'Add step to the body' }).click();
    await node(p, 'update-field-1').waitFor();
    await p.getByRole('button', { name: 'Tidy' }).click();
    // The body step sits inside the group on the canvas.
    const group = await node(p, 'for-each-1').boundingBox();
    const inner = await node(p, 'update-field-1').boundingBox();
    assert.ok(inner.y > group.y && inner.y + inner.height <= group.y + group.height, 'the body step is inside the group');
    await node(p, 'for-each-1').locator('.branch-label', { hasText: 'each item' }).waitFor();
    await w.axe('editor with a for-each');
    await screenshot(p, 'editor-for-each.png');

    await node(p, 'update-field-1').click();
    await p.getByRole('heading', { name: 'Step update-field-1' }).waitFor();
    await p.getByRole('button', { name: 'Save' }).click();
    await p.getByRole('status').filter({ hasText: 'Saved version 2' }).waitFor();
    const saved = await env.host.api('GET', `/api/workflows/${created.id}`);
    const each = saved.steps.find((s) => s.id === 'for-each-1');
    assert.equal(each.type, 'for-each');
    assert.equal(each.config.items, '{{ event.skus }}');
    assert.deepEqual(each.steps.map((s) => s.id), ['update-field-1']);
    assert.equal(each.branches, undefined, 'a body is saved as `steps`, not as branches');

    // The saved body runs once per item.
    await env.host.api('PUT', `/api/workflows/${created.id}/activate`);
    const run = await env.host.api('POST', `/api/workflows/${created.id}/trigger`, { skus: ['a', 'b', 'c'] });
    const done = await waitFor(run.id, 'COMPLETED');
    assert.equal(done.context.steps['for-each-1'].length, 3);
    await w.check();
  } finally {
    await w.close();
  }
});

test('a run page links to the child run it called, and the child back to its caller', async () => {
  await env.host.api('PUT', `/api/workflows/${(await env.host.api('POST', '/api/workflows', {
    name: 'Price',
    trigger: { type: 'manual' },
    steps: [{ id: 'price', type: 'update-field', config: { set: { total: '{{ event.qty }}' } } }],
  })).id}/activate`);
  const parent = await env.host.api('POST', '/api/workflows', {
    name: 'Order',
    trigger: { type: 'manual' },
    steps: [{ id: 'quote', type: 'call-workflow', config: { workflow: 'Price', input: { qty: 4 } } }],
  });
  await env.host.api('PUT', `/api/workflows/${parent.id}/activate`);
  const run = await env.host.api('POST', `/api/workflows/${parent.id}/trigger`, {});
  const done = await waitFor(run.id, 'COMPLETED');
  const child = done.context.steps.quote.runId;
  assert.equal(done.context.steps.quote.vars.total, 4);

  const w = await openPage(env.browser, env.host);
  try {
    await signIn(w);
    await w.goto(`/runs/${run.id}`);
    const p = w.page;
    const facts = p.locator('dl.facts');
    await facts.getByText('Child runs').waitFor();
    await facts.getByRole('link', { name: child }).click();
    await p.waitForURL(`**/runs/${child}`);
    await facts.getByText('Called by').waitFor();
    await facts.getByRole('link', { name: run.id }).waitFor();
    await w.axe('child run page');
    await w.check();
  } finally {
    await w.close();
  }
});
