import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, setup, signIn } from './harness.mjs';

let env;
before(async () => {
  env = await setup();
});
after(async () => {
  await env?.stop();
});

test('create an email template, edit it with a preview rendered by the host, delete it', async () => {
  const w = await openPage(env.browser, env.host);
  try {
    await signIn(w);
    const p = w.page;
    await p.getByRole('link', { name: 'Email templates' }).click();
    await p.getByRole('heading', { name: 'Email templates', level: 1 }).waitFor();
    await w.axe('templates');
    await p.getByRole('link', { name: 'New template' }).click();
    await p.getByLabel('Slug').fill('Bad Slug');
    await p.getByLabel('Subject').fill('Welcome');
    await p.getByRole('button', { name: 'Create' }).click();
    await p.getByRole('alert').filter({ hasText: /a-z/ }).first().waitFor();
    await p.getByLabel('Slug').fill('welcome');
    await p.getByLabel('Text body').fill('Hi {{ event.name }}!');
    await p.getByRole('button', { name: 'Create' }).click();
    await p.getByRole('heading', { name: 'Email template welcome' }).waitFor();

    await p.getByLabel('Subject').fill('Welcome, {{ event.name }}');
    await p.getByLabel('HTML body').fill('<p>Hello <b>{{ event.name }}</b></p>');
    await p.getByLabel('Sample data (JSON)').fill('{ "event": { "name": "Ada <3" } }');
    await p.getByRole('button', { name: 'Render preview' }).click();
    const preview = p.locator('.preview');
    await preview.getByText('Welcome, Ada <3').waitFor();
    await preview.getByText('Hi Ada <3!').waitFor();
    assert.match(await preview.locator('.preview-html').innerText(), /Ada &lt;3/);
    await w.axe('template preview');
    await p.getByRole('button', { name: 'Save' }).click();
    await p.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
    const saved = await env.host.api('GET', '/api/email-templates/welcome');
    assert.equal(saved.subject, 'Welcome, {{ event.name }}');

    // A template error names its field.
    await p.getByLabel('Subject').fill('Broken {{ event.name');
    await p.getByRole('button', { name: 'Render preview' }).click();
    await p.getByRole('alert').first().waitFor();

    await p.getByRole('button', { name: 'Delete' }).click();
    await p.getByRole('dialog', { name: 'Delete template welcome?' }).getByRole('button', { name: 'Delete' }).click();
    await p.getByRole('heading', { name: 'Email templates', level: 1 }).waitFor();
    await p.getByText('No templates yet.').waitFor();
    await w.check();
  } finally {
    await w.close();
  }
});
