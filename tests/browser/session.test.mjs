import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TOKEN, openPage, setup, signIn } from './harness.mjs';

let env;
before(async () => {
  env = await setup();
});
after(async () => {
  await env?.stop();
});

test('signs in with the token, keeps no token in the page, and signs out', async () => {
  const w = await openPage(env.browser, env.host);
  try {
    await w.goto('/');
    await w.page.getByRole('heading', { name: 'Sign in to Weft' }).waitFor();
    assert.match(w.page.url(), /\/signin/);
    await w.axe('sign-in');

    await w.page.getByLabel('API token').fill('wrong-token');
    await w.page.getByRole('button', { name: 'Sign in' }).click();
    await w.page.getByRole('alert').filter({ hasText: 'not right' }).waitFor();

    await signIn(w);
    await w.axe('dashboard');
    const cookies = await w.context.cookies();
    const session = cookies.find((c) => c.name === 'weft_session');
    assert.ok(session, 'a session cookie');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    const storage = await w.page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
    assert.ok(!storage.includes(TOKEN), 'no token in page storage');
    assert.ok(!w.page.url().includes(TOKEN), 'no token in the URL');

    await w.page.getByRole('button', { name: 'Sign out' }).click();
    await w.page.getByRole('heading', { name: 'Sign in to Weft' }).waitFor();
    await w.goto('/runs');
    await w.page.getByRole('heading', { name: 'Sign in to Weft' }).waitFor();
    await w.check();
  } finally {
    await w.close();
  }
});
