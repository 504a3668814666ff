import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { dragBetween, openPage, screenshot, setup, signIn } from './harness.mjs';

let env;
before(async () => {
  env = await setup();
});
after(async () => {
  await env?.stop();
});

/** The definition as the JSON tab shows it. */
async function jsonTab(page) {
  await page.getByRole('tab', { name: 'JSON' }).click();
  const box = page.getByRole('textbox', { name: 'Definition as JSON' });
  await box.waitFor();
  // CodeMirror renders only the visible lines; the host element gives the whole text.
  const text = await page.locator('.cm-host').evaluate((el) => el.editorText());
  return JSON.parse(text);
}

async function replaceJson(page, text) {
  await page.getByRole('tab', { name: 'JSON' }).click();
  const box = page.getByRole('textbox', { name: 'Definition as JSON' });
  await box.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
}

const node = (page, id) => page.locator(`.react-flow__node[data-id="${id}"]`);

test('drag a step from the palette onto the canvas and see it in the JSON tab', async () => {
  const w = await openPage(env.browser, env.host);
  try {
    await signIn(w);
    await w.page.getByRole('link', { name: 'New workflow' }).click();
    await w.page.getByRole('heading', { name: 'New workflow', level: 1 }).waitFor();
    await w.axe('editor');
    const pane = w.page.locator('.react-flow__pane');
    await w.page.getByRole('button', { name: 'Add webhook step' }).dragTo(pane, { targetPosition: { x: 300, y: 300 } });
    await node(w.page, 'webhook-1').waitFor();
    await w.page.getByRole('heading', { name: 'Step webhook-1' }).waitFor();
    const def = await jsonTab(w.page);
    assert.deepEqual(
      def.steps.map((s) => [s.id, s.type]),
      [['webhook-1', 'webhook']],
    );
    assert.ok(def.layout.nodes['webhook-1'], 'the drop position is kept in layout');
    await w.axe('editor JSON tab');
    await w.check();
  } finally {
    await w.close();
  }
});

test('connect a condition to two branches and build a parallel group', async () => {
  const w = await openPage(env.browser, env.host);
  try {
    await signIn(w);
    await w.goto('/workflows/new');
    const p = w.page;
    // The keyboard path: each palette item is a button that adds the step.
    for (const type of ['condition', 'update-field', 'update-field', 'parallel']) {
      await p.getByRole('button', { name: `Add ${type} step` }).click();
    }
    await node(p, 'parallel-1').waitFor();
    await p.getByRole('button', { name: 'Tidy' }).click();
    // A condition has one handle per target property.
    await dragBetween(p, node(p, 'condition-1').locator('[data-handleid="t:then"]'), node(p, 'update-field-1').locator('[data-handleid="in"]'));
    await dragBetween(p, node(p, 'condition-1').locator('[data-handleid="t:else"]'), node(p, 'update-field-2').locator('[data-handleid="in"]'));
    // next and onError edges.
    await dragBetween(p, node(p, 'update-field-1').locator('[data-handleid="next"]'), node(p, 'parallel-1').locator('[data-handleid="in"]'));
    await dragBetween(p, node(p, 'update-field-2').locator('[data-handleid="error"]'), node(p, '__end').locator('[data-handleid="in"]'));
    await p.locator('.react-flow__edge.edge-error').first().waitFor();

    // The parallel group: select it, add a branch, add a step to each branch.
    await node(p, 'parallel-1').locator('.node-parallel-head').click();
    await p.getByRole('heading', { name: 'Step parallel-1' }).waitFor();
    await p.getByRole('button', { name: 'Add branch' }).click();
    await p.getByLabel('Step type to add').selectOption('update-field');
    await p.getByRole('button', { name: 'Add step to branch 1' }).click();
    await node(p, 'parallel-1').locator('.node-parallel-head').click();
    await p.getByRole('button', { name: 'Add step to branch 2' }).click();
    await node(p, 'update-field-4').waitFor();
    // Dropping a palette item on a branch column adds it to that branch.
    const group = node(p, 'parallel-1');
    const box = await group.boundingBox();
    await p.getByRole('button', { name: 'Add wait step' }).dragTo(group, {
      targetPosition: { x: 60, y: box.height - 12 },
    });
    await node(p, 'wait-1').waitFor();
    await w.axe('editor with a graph');

    const def = await jsonTab(p);
    const byId = Object.fromEntries(def.steps.map((s) => [s.id, s]));
    assert.equal(byId['condition-1'].config.then, 'update-field-1');
    assert.equal(byId['condition-1'].config.else, 'update-field-2');
    assert.equal(byId['update-field-1'].next, 'parallel-1');
    assert.equal(byId['update-field-2'].onError, 'end');
    assert.deepEqual(
      byId['parallel-1'].branches.map((b) => b.map((s) => s.id)),
      [['update-field-3', 'wait-1'], ['update-field-4']],
    );

    // Undo and redo, with the keyboard.
    await p.getByRole('tab', { name: 'Canvas' }).click();
    await node(p, 'wait-1').waitFor();
    await p.locator('.react-flow__pane').click({ position: { x: 20, y: 20 } });
    await p.keyboard.press('Control+Z');
    await node(p, 'wait-1').waitFor({ state: 'detached' });
    await p.keyboard.press('Control+Shift+Z');
    await node(p, 'wait-1').waitFor();
    await p.getByRole('button', { name: 'Undo' }).click();
    await node(p, 'wait-1').waitFor({ state: 'detached' });
    await p.getByRole('button', { name: 'Redo' }).click();
    await node(p, 'wait-1').waitFor();
    await p.getByRole('button', { name: 'Tidy' }).click();
    await node(p, 'condition-1').click();
    await p.getByRole('heading', { name: 'Step condition-1' }).waitFor();
    await p.getByLabel(/^if/).fill('{{ event.email is defined }}');
    await screenshot(p, 'editor.png');
    await w.check();
  } finally {
    await w.close();
  }
});

test('a schema form shows a validation error, then the fix; the host refuses an invalid step on its field', async () => {
  const w = await openPage(env.browser, env.host);
  try {
    await signIn(w);
    await w.goto('/workflows/new');
    const p = w.page;
    await p.getByRole('button', { name: 'Add webhook step' }).click();
    const url = p.getByLabel(/^url/);
    await url.fill('https://example.com/hook');
    await url.fill('');
    const err = p.locator('.step-form .error-detail');
    await err.filter({ hasText: 'is required' }).waitFor();
    await w.axe('form with an error');
    // Templates are accepted in string fields.
    await url.fill('{{ event.callback }}');
    await err.waitFor({ state: 'detached' });
    await url.fill('');
    // Saving sends it to the host, whose 422 names the step and field.
    await p.getByRole('button', { name: 'Save' }).click();
    await p.getByRole('alert').filter({ hasText: 'Not saved' }).waitFor();
    await node(p, 'webhook-1').locator('.node-badge-error').waitFor();
    await url.fill('https://example.com/hook');
    await p.getByRole('button', { name: 'Save' }).click();
    await p.getByRole('status').filter({ hasText: 'Created' }).waitFor();
    await p.waitForURL(/\/workflows\/[^n]/);
    await w.check();
  } finally {
    await w.close();
  }
});

test('edit the JSON tab and the canvas follows; invalid text does not break it', async () => {
  const w = await openPage(env.browser, env.host);
  try {
    await signIn(w);
    await w.goto('/workflows/new');
    const p = w.page;
    await replaceJson(
      p,
      JSON.stringify({
        name: 'From JSON',
        trigger: { type: 'cron', config: { expression: '0 9 * * 1-5', timezone: 'Europe/Paris' } },
        steps: [
          { id: 'first', type: 'update-field', config: { set: { a: 1 } } },
          { id: 'second', type: 'wait', config: { duration: '1s' } },
        ],
      }),
    );
    await p.getByRole('status').filter({ hasText: 'In step with the canvas' }).waitFor();
    await p.keyboard.insertText('{ oops');
    await p.getByRole('alert').filter({ hasText: 'Not applied' }).waitFor();
    await w.axe('JSON tab with an error');
    // The YAML tab shows the same definition; editing it adds a step.
    await p.getByRole('tab', { name: 'YAML' }).click();
    const yamlBox = p.getByRole('textbox', { name: 'Definition as YAML' });
    await yamlBox.waitFor();
    assert.match(await p.locator('.cm-host').evaluate((el) => el.editorText()), /id: second/);
    await yamlBox.click();
    await p.keyboard.press('Control+End');
    await p.keyboard.insertText('\n');
    await p.keyboard.press('Control+A');
    const yamlText = await p.locator('.cm-host').evaluate((el) => el.editorText());
    await p.keyboard.press('Delete');
    await p.keyboard.insertText(
      yamlText.replace(/^steps:\n/m, 'steps:\n  - id: third\n    type: update-field\n    config:\n      unset: [a]\n'),
    );
    await p.getByRole('status').filter({ hasText: 'In step with the canvas' }).waitFor();
    await p.getByRole('tab', { name: 'Canvas' }).click();
    await node(p, 'first').waitFor();
    await node(p, 'second').waitFor();
    await node(p, 'third').waitFor();
    await p.getByRole('heading', { name: 'From JSON', level: 1 }).waitFor();
    // The trigger node opens the trigger form with the host's preview.
    await node(p, '__trigger').click();
    await p.getByLabel('Cron expression').waitFor();
    const times = p.getByRole('list', { name: 'Next fire times' }).getByRole('listitem');
    await times.first().waitFor();
    assert.equal(await times.count(), 5);
    await p.getByLabel('Cron expression').fill('not a cron');
    await p.locator('.inspector .field-errors').first().waitFor();
    await w.axe('trigger form');
    await w.check();
  } finally {
    await w.close();
  }
});

test('save, reload, and a second tab’s save gives the conflict dialog', async () => {
  const created = await env.host.api('POST', '/api/workflows', {
    name: 'Shared',
    trigger: { type: 'manual' },
    steps: [{ id: 'only', type: 'update-field', config: { set: { x: 1 } } }],
    layout: { nodes: { only: { x: 40, y: 160 } } },
    // Fields the editor shows no control for: a save keeps them.
    retention: '30d',
    timeout: '1h',
    concurrency: { limit: 2, key: '{{ event.customer }}' },
  });
  const a = await openPage(env.browser, env.host);
  try {
    await signIn(a);
    await a.goto(`/workflows/${created.id}`);
    const p = a.page;
    await node(p, 'only').waitFor();
    await p.getByRole('button', { name: 'Add wait step' }).click();
    await p.getByRole('button', { name: 'Save' }).click();
    await p.getByRole('status').filter({ hasText: 'Saved version 2' }).waitFor();
    const kept = await env.host.api('GET', `/api/workflows/${created.id}`);
    assert.deepEqual(
      [kept.retention, kept.timeout, kept.concurrency],
      ['30d', '1h', { limit: 2, key: '{{ event.customer }}' }],
    );
    await p.reload();
    await node(p, 'wait-1').waitFor();

    // A second tab of the same session saves a newer version.
    const b = await openPage(env.browser, env.host, { context: a.context });
    try {
      await b.goto(`/workflows/${created.id}`);
      await node(b.page, 'wait-1').waitFor();
      await b.page.locator('.react-flow__pane').click({ position: { x: 20, y: 20 } });
      await b.page.getByLabel('Name').fill('Shared, renamed in tab B');
      await b.page.getByRole('button', { name: 'Save' }).click();
      await b.page.getByRole('status').filter({ hasText: 'Saved version 3' }).waitFor();
      await b.check();
    } finally {
      await b.close();
    }

    await p.getByRole('button', { name: 'Add update-field step' }).click();
    await p.getByRole('button', { name: 'Save' }).click();
    const dialog = p.getByRole('dialog', { name: 'Someone saved a newer version' });
    await dialog.waitFor();
    await dialog.getByText('Name: yours “Shared”, theirs “Shared, renamed in tab B”').waitFor();
    await dialog.getByText('Step “update-field-1” is only in yours').waitFor();
    await a.axe('conflict dialog');
    await dialog.getByRole('button', { name: 'Load theirs' }).click();
    await p.getByRole('heading', { name: 'Shared, renamed in tab B', level: 1 }).waitFor();
    await node(p, 'update-field-1').waitFor({ state: 'detached' });
    // Keep mine: overwrite theirs after a second conflict.
    await p.getByRole('button', { name: 'Add update-field step' }).click();
    const current = await env.host.api('GET', `/api/workflows/${created.id}`);
    await env.host.api('PUT', `/api/workflows/${created.id}`, { ...current, description: 'from the API' });
    await p.getByRole('button', { name: 'Save' }).click();
    await dialog.getByRole('button', { name: 'Keep mine (overwrite)' }).click();
    await p.getByRole('status').filter({ hasText: 'Saved version 5' }).waitFor();
    const saved = await env.host.api('GET', `/api/workflows/${created.id}`);
    assert.ok(saved.steps.some((s) => s.id === 'update-field-1'));
    await a.check();
  } finally {
    await a.close();
  }
});

test('activate, pause and archive from the editor; Run now needs an active workflow', async () => {
  const created = await env.host.api('POST', '/api/workflows', {
    name: 'Lifecycle',
    trigger: { type: 'manual' },
    steps: [{ id: 'only', type: 'update-field', config: { set: { x: 1 } } }],
  });
  const w = await openPage(env.browser, env.host);
  try {
    await signIn(w);
    await w.goto(`/workflows/${created.id}`);
    const p = w.page;
    const badge = p.locator('.editor-title .badge');
    await badge.filter({ hasText: 'DRAFT' }).waitFor();
    await p.getByRole('button', { name: 'Activate' }).click();
    await badge.filter({ hasText: 'ACTIVE' }).waitFor();
    await p.getByRole('button', { name: 'Pause' }).click();
    await badge.filter({ hasText: 'PAUSED' }).waitFor();
    // A paused workflow does not start runs: the host's refusal is shown.
    await p.getByRole('button', { name: 'Run now' }).click();
    const dialog = p.getByRole('dialog', { name: 'Run now' });
    await dialog.getByRole('button', { name: 'Start run' }).click();
    await dialog.getByRole('alert').waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await p.getByRole('button', { name: 'Archive' }).click();
    await badge.filter({ hasText: 'ARCHIVED' }).waitFor();
    const saved = await env.host.api('GET', `/api/workflows/${created.id}`);
    assert.equal(saved.status, 'ARCHIVED');
    await w.axe('editor, archived');
    await w.check();
  } finally {
    await w.close();
  }
});
