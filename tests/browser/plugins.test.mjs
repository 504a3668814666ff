import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openPage, pluginDir, setup, signIn } from './harness.mjs';

let env;
before(async () => {
  env = await setup();
});
after(async () => {
  await env?.stop();
});

test('upload a plugin, use it in the editor, then refuse a corrupt file and uninstall', async () => {
  const w = await openPage(env.browser, env.host);
  try {
    await signIn(w);
    const p = w.page;
    await p.getByRole('link', { name: 'Plugins' }).click();
    await p.getByRole('heading', { name: 'Plugins', level: 1 }).waitFor();
    await p.getByRole('cell', { name: /^webhook/ }).first().waitFor();
    await w.axe('plugins');

    await p.getByLabel('Component (.wasm)').setInputFiles(path.join(pluginDir, 'greeter_v1.wasm'));
    await p.getByLabel('Fuel').fill('2000000000');
    await p.getByRole('button', { name: 'Install', exact: true }).click();
    const installed = p.getByRole('status').filter({ hasText: /Installed greeter \d/ });
    await installed.waitFor({ timeout: 60_000 });
    const v1 = /Installed greeter (\S+)\./.exec(await installed.innerText())[1];
    const row = p.getByRole('row').filter({ has: p.getByRole('cell', { name: /^greeter/ }) });
    await row.first().waitFor();
    assert.match(await row.first().innerText(), /installed/);
    assert.match(await row.first().innerText(), /2,000,000,000/);
    await row.first().getByText(`Schema of greeter ${v1}`).click();
    await row.first().getByText('"name"').first().waitFor();

    // It is in the palette, with a form from its schema.
    await p.getByRole('link', { name: 'Dashboard' }).click();
    await p.getByRole('link', { name: 'New workflow' }).click();
    await p.getByRole('button', { name: 'Add greeter step' }).click();
    await p.getByRole('heading', { name: 'Step greeter-1' }).waitFor();
    const name = p.getByLabel(/^name/);
    await name.fill('Ada');
    await p.getByRole('button', { name: 'Save' }).click();
    await p.getByRole('status').filter({ hasText: 'Created' }).waitFor();
    await w.axe('editor with a plugin step');

    // A corrupt component: the host's error is shown as it gives it.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'weft-corrupt-'));
    const bad = path.join(dir, 'corrupt.wasm');
    writeFileSync(bad, Buffer.concat([Buffer.from([0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0]), Buffer.from('not a component')]));
    await p.getByRole('link', { name: 'Plugins' }).click();
    await p.getByLabel('Component (.wasm)').setInputFiles(bad);
    await p.getByRole('button', { name: 'Install', exact: true }).click();
    const alert = p.getByRole('alert').filter({ hasText: 'Install failed' });
    await alert.waitFor();
    assert.match(await alert.innerText(), /plugin rejected/);
    await w.axe('plugins with an install error');

    // Uninstalling a version in use is refused with the host's reason; a
    // second version that nothing uses goes.
    await p.getByLabel('Component (.wasm)').setInputFiles(path.join(pluginDir, 'greeter_v2.wasm'));
    await p.getByRole('button', { name: 'Install', exact: true }).click();
    const second = p.getByRole('status').filter({ hasText: /Installed greeter \d/ }).filter({ hasNotText: `greeter ${v1}.` });
    await second.waitFor({ timeout: 60_000 });
    const v2 = /Installed greeter (\S+)\./.exec(await second.innerText())[1];
    // The older version is no longer what the saved workflow's `greeter` step
    // resolves to: it goes. The one it uses now is refused, with the host's reason.
    await p.getByRole('button', { name: `Uninstall greeter ${v1}` }).click();
    let dialog = p.getByRole('dialog', { name: `Uninstall greeter ${v1}?` });
    await dialog.getByRole('button', { name: 'Uninstall', exact: true }).click();
    await p.getByRole('status').filter({ hasText: `Uninstalled greeter ${v1}` }).waitFor();
    await p.getByRole('button', { name: `Uninstall greeter ${v1}` }).waitFor({ state: 'detached' });
    await p.getByRole('button', { name: `Uninstall greeter ${v2}` }).click();
    dialog = p.getByRole('dialog', { name: `Uninstall greeter ${v2}?` });
    await dialog.getByRole('button', { name: 'Uninstall', exact: true }).click();
    const refusal = dialog.getByRole('alert');
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /greeter/);
    await w.axe('uninstall refused');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await p.getByRole('button', { name: `Uninstall greeter ${v2}` }).waitFor();
    await w.check();
  } finally {
    await w.close();
  }
});
