// Secrets, the audit log and webhook workflows in the page: an admin sets a
// secret (its value never comes back into the page), sees a 422 on the field
// it names, and removes it; the audit log lists the changes, filtered and
// paged; a webhook workflow shows its hook URL; a viewer sees neither page.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, settledValue, setup, signIn } from './harness.mjs';

const VALUE = 'whsec_do-not-show-me-0123456789';
let env;
let hooked;
before(async () => {
  env = await setup();
  hooked = await env.host.api('POST', '/api/workflows', {
    name: 'Partner orders',
    trigger: {
      type: 'webhook',
      config: { verify: { type: 'standard-webhooks', secret: '{{ secrets.PARTNER_HOOK }}' }, respond: 'when-done' },
    },
    steps: [{ id: 'mark', type: 'update-field', config: { set: { done: true } } }],
  });
});
after(async () => {
  await env?.stop();
});

/** The text of what an element's `aria-describedby` names. */
const described = (locator) =>
  locator.evaluate((el) =>
    (el.getAttribute('aria-describedby') ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .map((id) => document.getElementById(id)?.textContent ?? '')
      .join(' '),
  );

const rowOf = (p, name) => p.getByRole('row').filter({ has: p.getByRole('cell', { name, exact: true }) });

test('an admin sets a secret, sees it listed without its value, gets field errors, and removes it', async () => {
  const w = await openPage(env.browser, env.host);
  try {
    const p = w.page;
    await signIn(w);
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Secrets' }).click();
    await p.getByRole('heading', { name: 'Secrets', level: 1 }).waitFor();
    const { keyFingerprint } = await env.host.api('GET', '/api/secrets');
    await p.getByText(keyFingerprint, { exact: true }).waitFor();
    await p.getByText('No secrets yet.').waitFor();
    await w.axe('secrets');

    const name = p.getByLabel('Name');
    const value = p.getByLabel('Value');
    const hosts = p.getByLabel('Allowed hosts');
    assert.equal(await value.getAttribute('type'), 'password');

    // A bad name: the host's message sits under the name field.
    await name.fill('bad name');
    await value.fill(VALUE);
    await p.getByRole('button', { name: 'Save secret' }).click();
    await p.getByRole('alert').filter({ hasText: 'Not saved: see the fields marked below' }).waitFor();
    assert.equal(await name.getAttribute('aria-invalid'), 'true');
    assert.match(await described(name), /`bad name` is not a secret name: 1 to 64 letters, digits and `_`/);
    await w.axe('secrets with a field error');

    // A bad host: under the hosts field, naming the host.
    await name.fill('PARTNER_HOOK');
    await hosts.fill('api.partner.example, https://x.example');
    await p.getByRole('button', { name: 'Save secret' }).click();
    await p.locator('#secret-hosts-errors').waitFor();
    assert.equal(await name.getAttribute('aria-invalid'), null, 'the name is fine now');
    assert.match(await described(hosts), /`https:\/\/x\.example` is not a host name/);

    await hosts.fill('api.partner.example, *.partner.example');
    await p.getByRole('button', { name: 'Save secret' }).click();
    await p.getByRole('status').filter({ hasText: 'Saved secret PARTNER_HOOK.' }).waitFor();
    assert.equal(await settledValue(value, ''), '', 'the value is cleared after saving');
    assert.equal(await settledValue(name, ''), '');
    const row = rowOf(p, 'PARTNER_HOOK');
    await row.waitFor();
    assert.match(await row.innerText(), /\*\.partner\.example/);
    assert.match(await row.innerText(), /api\.partner\.example/);
    const used = row.getByRole('link', { name: 'Partner orders' });
    assert.equal(await used.getAttribute('href'), `/workflows/${hooked.id}`);
    assert.equal((await p.content()).includes(VALUE), false, 'the value is nowhere in the page');
    await w.axe('secrets with a secret');

    // Replacing keeps the name, asks for a new value, and says so.
    await row.getByRole('button', { name: 'Replace PARTNER_HOOK' }).click();
    assert.equal(await settledValue(name, 'PARTNER_HOOK'), 'PARTNER_HOOK');
    assert.equal(
      await settledValue(hosts, '*.partner.example, api.partner.example'),
      '*.partner.example, api.partner.example',
    );
    const focused = await p
      .waitForFunction((el) => document.activeElement === el, await value.elementHandle(), { timeout: 5000 })
      .then(() => true, () => false);
    assert.equal(focused, true, 'the value field has the focus');
    await value.fill(`${VALUE}-2`);
    await p.getByRole('button', { name: 'Save secret' }).click();
    await p.getByRole('status').filter({ hasText: 'Replaced secret PARTNER_HOOK.' }).waitFor();

    // Opened again, the page still knows no value.
    await w.goto('/secrets');
    await row.waitFor();
    assert.equal((await p.content()).includes(VALUE), false, 'no value after a reload');
    const listed = await env.host.api('GET', '/api/secrets');
    assert.deepEqual(Object.keys(listed.data[0]).sort(), ['allowedHosts', 'createdAt', 'name', 'updatedAt', 'usedBy']);

    // A 403 (the role lowered since the page loaded) names the role needed.
    await p.route('**/api/secrets/*', (route) =>
      route.fulfill({
        status: 403,
        contentType: 'application/json',
        body: JSON.stringify({
          error: {
            code: 'forbidden',
            message: 'PUT /api/secrets/{name} needs the `admin` role; token `x` has `editor`',
            details: { required: 'admin', role: 'editor' },
          },
        }),
      }),
    );
    await name.fill('OTHER');
    await value.fill('x');
    await p.getByRole('button', { name: 'Save secret' }).click();
    await p.getByRole('alert').filter({ hasText: 'Not saved: Needs the admin role (you are editor).' }).waitFor();
    await p.unroute('**/api/secrets/*');

    await row.getByRole('button', { name: 'Remove PARTNER_HOOK' }).click();
    const dialog = p.getByRole('dialog', { name: 'Remove secret PARTNER_HOOK?' });
    await dialog.getByText('Partner orders names it').waitFor();
    await w.axe('remove secret dialog');
    await dialog.getByRole('button', { name: 'Remove', exact: true }).click();
    await p.getByRole('status').filter({ hasText: 'Removed secret PARTNER_HOOK.' }).waitFor();
    await row.waitFor({ state: 'detached' });
    assert.deepEqual((await env.host.api('GET', '/api/secrets')).data, []);
    await w.check();
  } finally {
    await w.close();
  }
});

test('the audit log lists the secret changes newest first, filters by action and pages to older entries', async () => {
  const w = await openPage(env.browser, env.host);
  try {
    const p = w.page;
    await signIn(w);
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit log' }).click();
    await p.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
    const body = p.locator('.audit-table tbody tr');
    await body.first().waitFor();
    const cells = async (i) => (await body.nth(i).locator('td').allInnerTexts()).map((t) => t.trim());
    // Newest first: the removal, the replacement, the first set, the workflow.
    assert.deepEqual((await cells(0)).slice(1, 4), ['admin (--admin-token) admin', 'secret.removed', 'PARTNER_HOOK']);
    assert.deepEqual((await cells(1)).slice(2, 4), ['secret.set', 'PARTNER_HOOK']);
    assert.deepEqual((await cells(2)).slice(2, 4), ['secret.set', 'PARTNER_HOOK']);
    assert.deepEqual((await cells(3)).slice(2, 4), ['workflow.created', hooked.id]);
    assert.equal(await body.count(), 4);
    assert.equal(
      await body.nth(3).getByRole('link', { name: hooked.id }).getAttribute('href'),
      `/workflows/${hooked.id}`,
    );
    await w.axe('audit log');

    // More than a page of one action.
    for (let i = 0; i < 52; i++) await env.host.api('PUT', `/api/secrets/BULK_${i}`, { value: 'v', allowedHosts: [] });
    await p.getByLabel('Action').selectOption('secret.set');
    await p.waitForURL(/\?action=secret\.set$/);
    await p.getByRole('cell', { name: 'BULK_51', exact: true }).waitFor();
    assert.equal(await body.count(), 50);
    const actions = await p.locator('.audit-table tbody tr td:nth-child(3)').allInnerTexts();
    assert.deepEqual([...new Set(actions)], ['secret.set']);
    assert.equal((await cells(0))[3], 'BULK_51');
    assert.equal((await cells(49))[3], 'BULK_2');
    const pager = p.getByRole('navigation', { name: 'Audit log pages' });
    assert.equal(await pager.getByRole('button', { name: 'Newest' }).isDisabled(), true);
    await pager.getByRole('button', { name: 'Older' }).click();
    await p.waitForURL(/before=\d+/);
    await p.getByRole('cell', { name: 'BULK_1', exact: true }).waitFor();
    assert.deepEqual(
      await p.locator('.audit-table tbody tr td:nth-child(4)').allInnerTexts(),
      ['BULK_1', 'BULK_0', 'PARTNER_HOOK', 'PARTNER_HOOK'],
    );
    assert.equal(await pager.getByRole('button', { name: 'Older' }).isDisabled(), true, 'the last page');
    await pager.getByRole('button', { name: 'Newest' }).click();
    await p.getByRole('cell', { name: 'BULK_51', exact: true }).waitFor();
    assert.match(p.url(), /\?action=secret\.set$/, 'the filter stays');
    await w.check();
  } finally {
    await w.close();
  }
});

test('a webhook workflow shows its hook URL, verification, secret and answer; a new one gets its URL on saving', async () => {
  const shown = await env.host.api('GET', `/api/workflows/${hooked.id}`);
  assert.match(shown.hook.path, /^\/hooks\/[^/]+$/);
  const context = await env.browser.newContext({
    viewport: { width: 1280, height: 800 },
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  const w = await openPage(env.browser, env.host, { context });
  try {
    const p = w.page;
    await signIn(w);
    await w.goto(`/workflows/${hooked.id}`);
    await p.getByRole('heading', { name: 'Partner orders', level: 1 }).waitFor();
    const hook = p.getByRole('region', { name: 'Webhook' });
    const url = hook.getByLabel('Hook URL');
    assert.equal(await url.inputValue(), `${env.host.base}${shown.hook.path}`);
    const text = await hook.innerText();
    assert.match(text, /Verification\s*standard-webhooks/);
    assert.match(text, /Secret\s*PARTNER_HOOK/);
    assert.match(text, /Answers\s*when-done/);
    await hook.getByRole('button', { name: 'Copy hook URL' }).click();
    await hook.getByRole('status').filter({ hasText: 'Copied.' }).waitFor();
    assert.equal(await p.evaluate(() => navigator.clipboard.readText()), `${env.host.base}${shown.hook.path}`);
    await w.axe('webhook workflow');

    // The trigger form shows the webhook's fields.
    await p.locator('.react-flow__node[data-id="__trigger"]').click();
    await p.getByRole('heading', { name: 'Trigger', level: 2 }).waitFor();
    assert.equal(await p.getByLabel('Starts on').inputValue(), 'webhook');
    assert.equal(await p.getByLabel('Verification').inputValue(), 'standard-webhooks');
    assert.equal(await p.getByLabel('Secret name').inputValue(), 'PARTNER_HOOK');
    assert.equal(await p.getByLabel('Answer').inputValue(), 'when-done');
    await w.axe('webhook trigger form');

    // A new workflow: no URL before saving; the host refuses a missing secret on its field.
    await w.goto('/workflows/new');
    await p.getByRole('heading', { name: 'New workflow', level: 1 }).waitFor();
    await p.getByRole('button', { name: 'Add update-field step' }).click();
    await p.locator('.react-flow__node[data-id="__trigger"]').click();
    await p.getByLabel('Starts on').selectOption('webhook');
    await hook.getByText('The hook URL appears after saving.').waitFor();
    const bar = p.getByRole('toolbar', { name: 'Workflow actions' });
    await bar.getByRole('button', { name: 'Save' }).click();
    const secretField = p.locator('.field', { has: p.getByLabel('Secret name') });
    await secretField.getByRole('alert').filter({ hasText: 'must name a secret as `{{ secrets.NAME }}`' }).waitFor();
    await p.getByLabel('Verification').selectOption('hmac-sha256');
    await p.getByLabel('Secret name').fill('GITHUB_HOOK');
    await p.getByLabel('Signature header').fill('X-Signature');
    await bar.getByRole('button', { name: 'Save' }).click();
    await p.waitForURL(/\/workflows\/(?!new)[^/]+$/);
    await url.waitFor();
    const id = new URL(p.url()).pathname.split('/').pop();
    const saved = await env.host.api('GET', `/api/workflows/${id}`);
    assert.equal(await url.inputValue(), `${env.host.base}${saved.hook.path}`);
    assert.deepEqual(saved.trigger, {
      type: 'webhook',
      config: {
        verify: { type: 'hmac-sha256', secret: '{{ secrets.GITHUB_HOOK }}', header: 'X-Signature' },
        respond: 'accepted',
      },
    });
    assert.match(await hook.innerText(), /Answers\s*accepted/);
    await w.check();
  } finally {
    await w.close();
    await context.close();
  }
});

test('a viewer sees no Secrets or Audit log link, and either page says it needs the admin role', async () => {
  const viewer = await env.host.api('POST', '/api/tokens', { name: 'lobby-screen', role: 'viewer' });
  const w = await openPage(env.browser, env.host);
  try {
    const p = w.page;
    await signIn(w, viewer.token);
    const nav = p.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Runs' }).waitFor();
    assert.equal(await nav.getByRole('link', { name: 'Secrets' }).count(), 0, 'no Secrets link');
    assert.equal(await nav.getByRole('link', { name: 'Audit log' }).count(), 0, 'no Audit log link');
    let asked = 0;
    p.on('request', (r) => {
      const path = new URL(r.url()).pathname;
      if (path.startsWith('/api/secrets') || path.startsWith('/api/audit')) asked += 1;
    });
    await w.goto('/secrets');
    await p.getByRole('alert').filter({ hasText: 'Needs the admin role (you are viewer).' }).waitFor();
    await w.goto('/audit');
    await p.getByRole('alert').filter({ hasText: 'Needs the admin role (you are viewer).' }).waitFor();
    // The hook is shown, its secret by name only (a viewer cannot list secrets).
    await w.goto(`/workflows/${hooked.id}`);
    const hook = p.getByRole('region', { name: 'Webhook' });
    await hook.getByLabel('Hook URL').waitFor();
    assert.match(await hook.innerText(), /Secret\s*PARTNER_HOOK/);
    assert.equal(await hook.getByRole('link').count(), 0);
    assert.equal(asked, 0, 'the page asked the host for nothing it would refuse');
    await w.check();
  } finally {
    await w.close();
  }
});
