// The API page: the host's own OpenAPI document as a reference. Operations
// are grouped by tag; one opens to its role, parameters, body and answers
// with their schemas resolved (references followed, a recursive schema
// shown once); the filter narrows the list and lives in the address; a
// `#fragment` opens its operation. Nothing on the page breaks the CSP.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, screenshot, setup, signIn } from './harness.mjs';

const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options', 'trace'];

let env;
let total;
before(async () => {
  env = await setup();
  const doc = await env.host.api('GET', '/api/openapi.json');
  total = Object.values(doc.paths).reduce((n, item) => n + METHODS.filter((m) => item[m]).length, 0);
});
after(async () => {
  await env?.stop();
});

/** A page that also records every CSP violation the document reports. */
async function watchedPage(token) {
  const w = await openPage(env.browser, env.host);
  await w.page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`),
    );
  });
  await signIn(w, token);
  return w;
}

async function noCspViolations(w) {
  assert.deepEqual(await w.page.evaluate(() => window.__csp), []);
}

/** The cells of each row of a table, as text. */
async function cells(table) {
  return table.getByRole('row').evaluateAll((rows) =>
    rows.slice(1).map((r) => [...r.querySelectorAll('th, td')].map((c) => c.innerText.trim().replace(/\s+/g, ' '))),
  );
}

/** The line of a schema field: name, required mark, type, facts. */
const fieldLine = (scope, name) =>
  scope.locator('.api-field-line').filter({ has: scope.page().locator('.api-name', { hasText: new RegExp(`^${name}$`) }) });

test('an operation opens to its role, parameters and answers, schemas resolved', async () => {
  const w = await watchedPage();
  try {
    const p = w.page;
    await p.getByRole('link', { name: 'API', exact: true }).click();
    await p.getByRole('heading', { name: 'API', level: 1 }).waitFor();
    assert.equal(new URL(p.url()).pathname, '/api-docs');
    await p.getByRole('status').filter({ hasText: `${total} operations.` }).waitFor();
    assert.equal(await p.locator('article.api-op').count(), total);
    const ids = await p.locator('article.api-op').evaluateAll((els) => els.map((e) => e.id));
    assert.equal(new Set(ids).size, total, 'every operation has its own anchor');

    const workflows = p.getByRole('region', { name: 'workflows', exact: true });
    const trigger = workflows.getByRole('article', { name: /POST \/api\/workflows\/\{id\}\/trigger/ });
    await trigger.waitFor();
    assert.equal(await trigger.getAttribute('id'), 'trigger');
    assert.equal(await trigger.locator('.api-role').textContent(), 'needs the role operator');
    const open = trigger.getByRole('button', { name: 'POST /api/workflows/{id}/trigger Start a run' });
    assert.equal(await open.getAttribute('aria-expanded'), 'false');
    await open.click();
    assert.equal(await open.getAttribute('aria-expanded'), 'true');
    await trigger.locator('p.hint', { hasText: 'Operation id trigger · needs the operator role or above' }).waitFor();

    const params = trigger.getByRole('region', { name: 'Parameters' }).getByRole('table');
    assert.deepEqual(await cells(params), [
      ['id', 'path', 'string', 'required', ''],
      ['wait', 'query', 'integer int64 ≥ 0', 'optional', 'Answer when the run has ended or gone to sleep, within this many ms (0 to 60000)'],
      ['Idempotency-Key', 'header', 'string | null', 'optional', 'A repeat within 24 hours starts nothing'],
    ]);

    const body = trigger.getByRole('region', { name: /Request body/ });
    await body.getByText('application/json', { exact: true }).waitFor();
    await body.getByText("The run's event; {} when empty", { exact: true }).waitFor();

    // 2xx answers are open: the 202's StartedRun, its fields resolved.
    const answers = trigger.getByRole('region', { name: 'Responses' });
    const started = answers.locator('li.api-answer').filter({ has: p.getByRole('button', { name: /^202 Started/ }) });
    assert.equal(await started.getByRole('button', { name: /^202/ }).getAttribute('aria-expanded'), 'true');
    await started.locator('.api-ref', { hasText: 'StartedRun' }).first().waitFor();
    assert.equal(await fieldLine(started, 'workflowId').innerText().then((t) => t.replace(/\s+/g, ' ')), 'workflowId required string');
    assert.equal(await fieldLine(started, 'replayed').innerText().then((t) => t.replace(/\s+/g, ' ')), 'replayed boolean');
    const status = fieldLine(started, 'status').locator('xpath=..');
    assert.match(await status.innerText(), /RunStatus\s+string[\s\S]*One of PENDING, RUNNING, WAITING, COMPLETED, FAILED, CANCELLED/);

    // The 200 is any of two runs' shapes, each named by its component.
    const ok = answers.locator('li.api-answer').filter({ has: p.getByRole('button', { name: /^200/ }) });
    await ok.getByText('Any of:').waitFor();
    await ok.getByRole('button', { name: 'RunView', exact: true }).waitFor();
    await ok.getByRole('button', { name: 'StartedRun', exact: true }).waitFor();

    // Errors start closed; opened, the shared Error schema nests ErrorDetail.
    const conflict = answers.locator('li.api-answer').filter({ has: p.getByRole('button', { name: /^409/ }) });
    const conflictButton = conflict.getByRole('button', { name: /^409 The workflow is not ACTIVE or has no manual trigger Error$/ });
    assert.equal(await conflictButton.getAttribute('aria-expanded'), 'false');
    await conflictButton.click();
    await conflict.getByRole('button', { name: 'error', exact: true }).click();
    assert.equal(await fieldLine(conflict, 'code').innerText().then((t) => t.replace(/\s+/g, ' ')), 'code required string');
    await fieldLine(conflict, 'details').filter({ hasText: 'array of FieldError | null' }).waitFor();
    await w.axe('api page, trigger open');
    await trigger.evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await screenshot(p, 'api-docs.png');

    // A schema that holds itself is shown once: a step's branches hold steps.
    const create = workflows.getByRole('article', { name: /^POST \/api\/workflows Create/ });
    await create.getByRole('button', { name: /^POST \/api\/workflows / }).click();
    const spec = create.getByRole('region', { name: /Request body/ });
    await spec.locator('.api-ref', { hasText: 'WorkflowSpec' }).first().waitFor();
    await fieldLine(spec, 'steps').filter({ hasText: 'array of StepDef' }).waitFor();
    await spec.getByRole('button', { name: 'steps', exact: true }).click();
    const branches = fieldLine(spec, 'branches');
    assert.match(await branches.innerText(), /array of array of StepDef \| null[\s\S]*recursive: as above/);
    assert.equal(await branches.getByRole('button').count(), 0, 'the recursive field does not open');
    await spec.getByRole('button', { name: 'trigger', exact: true }).click();
    await spec.getByText('One of:').first().waitFor();
    await spec.getByRole('button', { name: 'type = cron', exact: true }).waitFor();
    await w.axe('api page, schemas open');
    await noCspViolations(w);
    await w.check();
  } finally {
    await w.close();
  }
});

test('the filter narrows the list by path or summary and stays in the address', async () => {
  const w = await watchedPage();
  try {
    const p = w.page;
    await w.goto('/api-docs');
    const filter = p.getByRole('searchbox', { name: 'Filter operations' });
    await p.getByRole('status').filter({ hasText: `${total} operations.` }).waitFor();

    // By path: "trigger" alone would also find the summaries of activate and pause.
    await filter.fill('/trigger');
    await p.getByRole('status').filter({ hasText: `1 of ${total} operations match.` }).waitFor();
    assert.deepEqual(await p.locator('article.api-op').evaluateAll((els) => els.map((e) => e.id)), ['trigger']);
    assert.equal(new URL(p.url()).searchParams.get('q'), '/trigger');
    await filter.fill('trigger');
    await p.getByRole('status').filter({ hasText: `3 of ${total} operations match.` }).waitFor();
    const toc = p.getByRole('navigation', { name: 'API sections' });
    assert.deepEqual(await toc.getByRole('link').allInnerTexts(), ['workflows']);

    // By summary, several words in any order.
    await filter.fill('run cancel');
    await p.getByRole('status').filter({ hasText: `2 of ${total} operations match.` }).waitFor();
    await p.getByRole('article', { name: /POST \/api\/workflow-runs\/\{id\}\/cancel/ }).waitFor();
    await p.getByRole('article', { name: /POST \/api\/workflow-runs\/bulk-cancel/ }).waitFor();

    await filter.fill('get /api/plugins');
    await p.getByRole('status').filter({ hasText: `2 of ${total} operations match.` }).waitFor();

    await filter.fill('no such thing');
    await p.getByText('No operation matches “no such thing”.').waitFor();
    assert.equal(await p.locator('article.api-op').count(), 0);

    // The address keeps it over a reload.
    await filter.fill('secrets');
    await p.getByRole('status').filter({ hasText: `3 of ${total} operations match.` }).waitFor();
    await p.reload();
    await p.getByRole('status').filter({ hasText: `3 of ${total} operations match.` }).waitFor();
    assert.equal(await p.getByRole('searchbox', { name: 'Filter operations' }).inputValue(), 'secrets');

    await p.getByRole('searchbox', { name: 'Filter operations' }).fill('');
    await p.getByRole('status').filter({ hasText: `${total} operations.` }).waitFor();
    await w.axe('api page, filtered');
    await noCspViolations(w);
    await w.check();
  } finally {
    await w.close();
  }
});

test('a link to an operation opens it, even past the filter; a viewer sees the role it lacks', async () => {
  const viewer = await env.host.api('POST', '/api/tokens', { name: 'reader', role: 'viewer' });
  const w = await watchedPage(viewer.token);
  try {
    const p = w.page;
    await w.goto('/api-docs?q=plugins#trigger');
    const trigger = p.locator('article#trigger');
    await trigger.getByRole('region', { name: 'Parameters' }).waitFor();
    assert.equal(await trigger.getByRole('button', { name: /^POST \/api\/workflows\/\{id\}\/trigger/ }).getAttribute('aria-expanded'), 'true');
    assert.equal(await p.getByRole('searchbox', { name: 'Filter operations' }).inputValue(), '', 'the filter made way');
    assert.ok(await trigger.evaluate((el) => el.getBoundingClientRect().top < window.innerHeight), 'scrolled into view');
    await trigger.locator('.api-role-line').filter({ hasText: 'your token is viewer' }).waitFor();

    // Names repeated across tags (utoipa ids are handler names) get the tag.
    const runs = p.getByRole('article', { name: /^GET \/api\/workflow-runs List/ });
    await runs.getByRole('link', { name: 'Link to GET /api/workflow-runs' }).click();
    await p.waitForURL(/#runs-list$/);
    await runs.getByRole('region', { name: 'Parameters' }).waitFor();
    const session = p.locator('article#session-show');
    await session.locator('.api-role', { hasText: 'no token needed' }).waitFor();
    // A viewer may read every operation; nothing marks a GET as out of reach.
    assert.equal(await runs.getByText('your token is').count(), 0);
    await w.axe('api page, linked');
    await noCspViolations(w);
    await w.check();
  } finally {
    await w.close();
  }
});
