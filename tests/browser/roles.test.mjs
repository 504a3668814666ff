// Roles of API tokens in the page: a viewer and an operator see what they
// cannot do disabled, with the role it needs; a 403 is shown with the role;
// an admin creates a token on the Tokens page, sees its value once, and
// revokes it.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, setup, signIn } from './harness.mjs';

let env;
let wf;
let run;
before(async () => {
  env = await setup();
  wf = await env.host.api('POST', '/api/workflows', {
    name: 'Mark done',
    trigger: { type: 'manual' },
    steps: [{ id: 'mark', type: 'update-field', config: { set: { done: true } } }],
  });
  await env.host.api('PUT', `/api/workflows/${wf.id}/activate`);
  run = await env.host.api('POST', `/api/workflows/${wf.id}/trigger`, {});
});
after(async () => {
  await env?.stop();
});

const token = (name, role) => env.host.api('POST', '/api/tokens', { name, role });

/** The API as `value` would see it: the status of GET /api/workflows. */
async function statusWith(value) {
  const r = await fetch(`${env.host.base}/api/workflows`, { headers: { Authorization: `Bearer ${value}` } });
  await r.arrayBuffer();
  return r.status;
}

/** The control is refused but focusable, and what describes it names `role`. */
async function refused(locator, role) {
  await locator.waitFor();
  assert.equal(await locator.getAttribute('aria-disabled'), 'true', 'aria-disabled');
  assert.equal(await locator.evaluate((el) => el.disabled), false, 'still focusable (not disabled)');
  const described = await locator.evaluate((el) =>
    (el.getAttribute('aria-describedby') ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .map((id) => document.getElementById(id)?.textContent ?? '')
      .join(' '),
  );
  assert.match(described, new RegExp(`needs the ${role} role`, 'i'));
  await locator.focus();
  assert.equal(await locator.evaluate((el) => document.activeElement === el), true, 'takes the focus');
}

async function notRefused(locator) {
  await locator.waitFor();
  assert.equal(await locator.getAttribute('aria-disabled'), null);
}

test('a viewer sees its role, and what it cannot do is disabled with the role it needs', async () => {
  const viewer = await token('wall-screen', 'viewer');
  assert.equal(viewer.role, 'viewer');
  const w = await openPage(env.browser, env.host);
  try {
    const p = w.page;
    await signIn(w, viewer.token);
    const who = p.locator('.site-header .whoami');
    await who.waitFor();
    assert.match(await who.innerText(), /wall-screen/);
    assert.match(await who.innerText(), /viewer/);
    const nav = p.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Plugins' }).waitFor();
    assert.equal(await nav.getByRole('link', { name: 'Tokens' }).count(), 0, 'no Tokens nav item');
    await refused(p.getByRole('button', { name: 'New workflow' }), 'editor');
    await w.axe('dashboard as viewer');

    await w.goto(`/workflows/${wf.id}`);
    await p.getByRole('heading', { name: 'Mark done', level: 1 }).waitFor();
    const bar = p.getByRole('toolbar', { name: 'Workflow actions' });
    await refused(bar.getByRole('button', { name: 'Save' }), 'editor');
    await refused(bar.getByRole('button', { name: 'Pause' }), 'editor');
    await refused(bar.getByRole('button', { name: 'Archive' }), 'editor');
    await refused(bar.getByRole('button', { name: 'Run now' }), 'operator');
    await bar.getByText('Needs the editor role (you are viewer).').waitFor();
    // Pressing a refused button (or Ctrl+S) sends nothing.
    let writes = 0;
    p.on('request', (r) => {
      if (r.method() !== 'GET' && new URL(r.url()).pathname.startsWith('/api/workflows')) writes += 1;
    });
    // (Playwright does not click an aria-disabled element: the keyboard does.)
    await bar.getByRole('button', { name: 'Save' }).focus();
    await p.keyboard.press('Enter');
    await p.keyboard.press('Control+s');
    await bar.getByRole('button', { name: 'Run now' }).focus();
    await p.keyboard.press('Enter');
    assert.equal(await p.getByRole('dialog', { name: 'Run now' }).count(), 0);
    await w.axe('editor as viewer');
    // Activate shows once the workflow is paused (through the API).
    await env.host.api('PUT', `/api/workflows/${wf.id}/pause`);
    await w.goto(`/workflows/${wf.id}`);
    await refused(p.getByRole('toolbar', { name: 'Workflow actions' }).getByRole('button', { name: 'Activate' }), 'editor');
    await env.host.api('PUT', `/api/workflows/${wf.id}/activate`);
    assert.equal(writes, 0, 'no write was sent');

    await w.goto(`/runs/${run.id}`);
    const runBar = p.getByRole('toolbar', { name: 'Run actions' });
    await refused(runBar.getByRole('button', { name: 'Cancel run' }), 'operator');
    await refused(runBar.getByRole('button', { name: 'Retry run' }), 'operator');
    await w.axe('run page as viewer');

    await w.goto('/plugins');
    await p.getByRole('heading', { name: 'Plugins', level: 1 }).waitFor();
    await refused(p.getByRole('button', { name: 'Install', exact: true }), 'admin');
    assert.equal(await p.getByLabel('Component (.wasm)').isDisabled(), true, 'no file to pick');
    await w.axe('plugins as viewer');

    await w.goto('/email-templates');
    await p.getByRole('heading', { name: 'Email templates', level: 1 }).waitFor();
    await refused(p.getByRole('button', { name: 'New template' }), 'editor');

    await w.goto('/tokens');
    await p.getByRole('alert').filter({ hasText: 'Needs the admin role (you are viewer).' }).waitFor();
    await w.check();
  } finally {
    await w.close();
  }
});

test('an operator can run a workflow now, but not save it', async () => {
  const operator = await token('night-shift', 'operator');
  const w = await openPage(env.browser, env.host);
  try {
    const p = w.page;
    await signIn(w, operator.token);
    assert.match(await p.locator('.site-header .whoami').innerText(), /operator/);
    await w.goto(`/workflows/${wf.id}`);
    const bar = p.getByRole('toolbar', { name: 'Workflow actions' });
    await refused(bar.getByRole('button', { name: 'Save' }), 'editor');
    await refused(bar.getByRole('button', { name: 'Archive' }), 'editor');
    await bar.getByText('Needs the editor role (you are operator).').waitFor();
    await notRefused(bar.getByRole('button', { name: 'Run now' }));
    await bar.getByRole('button', { name: 'Run now' }).click();
    const dialog = p.getByRole('dialog', { name: 'Run now' });
    await dialog.getByRole('button', { name: 'Start run' }).click();
    await p.waitForURL(/\/runs\/[^/]+$/);
    await p.locator('.page-head .badge', { hasText: 'COMPLETED' }).waitFor({ timeout: 30_000 });
    const runBar = p.getByRole('toolbar', { name: 'Run actions' });
    await notRefused(runBar.getByRole('button', { name: 'Retry run' }));
    await notRefused(runBar.getByRole('button', { name: 'Cancel run' }));
    await w.check();
  } finally {
    await w.close();
  }
});

test('a 403 from the host is shown where the action was, with the role it needs', async () => {
  const w = await openPage(env.browser, env.host);
  try {
    const p = w.page;
    await signIn(w);
    // As if the role had been lowered since the page loaded.
    await p.route(`**/api/workflows/${wf.id}`, (route) => {
      if (route.request().method() !== 'PUT') return route.fallback();
      return route.fulfill({
        status: 403,
        contentType: 'application/json',
        body: JSON.stringify({
          error: {
            code: 'forbidden',
            message: 'PUT /api/workflows/{id} needs the `editor` role; token `x` has `viewer`',
            details: { required: 'editor', role: 'viewer' },
          },
        }),
      });
    });
    await w.goto(`/workflows/${wf.id}`);
    await p.getByRole('heading', { name: 'Mark done', level: 1 }).waitFor();
    await p.getByRole('toolbar', { name: 'Workflow actions' }).getByRole('button', { name: 'Save' }).click();
    await p.getByRole('alert').filter({ hasText: 'Needs the editor role (you are viewer).' }).waitFor();
    await w.check();
  } finally {
    await w.close();
  }
});

test('an admin creates a token on the Tokens page, sees it once, and revokes it', async () => {
  const w = await openPage(env.browser, env.host);
  try {
    const p = w.page;
    await signIn(w);
    assert.match(await p.locator('.site-header .whoami').innerText(), /admin/);
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tokens' }).click();
    await p.getByRole('heading', { name: 'Tokens', level: 1 }).waitFor();
    await w.axe('tokens');

    await p.getByLabel('Name').fill('kiosk');
    await p.getByLabel('Role').selectOption('viewer');
    await p.getByLabel('Expires (optional)').fill('2099-01-01T12:00');
    await p.getByRole('button', { name: 'Create token' }).click();
    const field = p.getByLabel('Value of token kiosk');
    await field.waitFor();
    assert.equal(await field.getAttribute('readonly'), '');
    await p.getByText('it will not be shown again').waitFor();
    const value = await field.inputValue();
    assert.ok(value.length >= 16, 'a token value');
    await w.axe('tokens with a new token');

    const row = p.getByRole('row').filter({ has: p.getByRole('cell', { name: 'kiosk', exact: true }) });
    await row.waitFor();
    assert.match(await row.innerText(), /viewer/);
    assert.match(await row.innerText(), /2099/);
    assert.equal(await statusWith(value), 200);

    // Shown once: not after the page is opened again.
    await w.goto('/tokens');
    await row.waitFor();
    assert.equal(await p.getByLabel('Value of token kiosk').count(), 0);

    await row.getByRole('button', { name: 'Revoke kiosk' }).click();
    const dialog = p.getByRole('dialog', { name: 'Revoke token kiosk?' });
    await w.axe('revoke dialog');
    await dialog.getByRole('button', { name: 'Revoke', exact: true }).click();
    await p.getByRole('status').filter({ hasText: 'Revoked kiosk.' }).waitFor();
    await row.waitFor({ state: 'detached' });
    assert.equal(await statusWith(value), 401);
    await w.check();
  } finally {
    await w.close();
  }
});
