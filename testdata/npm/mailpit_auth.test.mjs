// The npm package mailpit-api, unmodified, against a mailsink whose UI and
// API need HTTP basic authentication (MAILSINK_UI_AUTH): with its `auth`
// option every call goes through, without it every call is refused.
// server/npm_test.go's TestNPMClientWithAuth sends the three messages of
// corpus.mjs first and passes the credentials in MAILSINK_AUTH_USER and
// MAILSINK_AUTH_PASSWORD.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MailpitClient } from 'mailpit-api';
import { baseURL, plain, shipped, invoice } from './corpus.mjs';

const username = process.env.MAILSINK_AUTH_USER;
const password = process.env.MAILSINK_AUTH_PASSWORD;
if (!username || !password) {
  throw new Error('MAILSINK_AUTH_USER and MAILSINK_AUTH_PASSWORD are not set: run through `go test ./server -run TestNPMClientWithAuth`');
}

const mailpit = new MailpitClient(baseURL, { auth: { username, password } });

test('without credentials: 401', async () => {
  for (const client of [new MailpitClient(baseURL), new MailpitClient(baseURL, { auth: { username, password: `${password}x` } })]) {
    await assert.rejects(client.listMessages(), /401 Unauthorized/);
    await assert.rejects(client.getInfo(), /401 Unauthorized/);
  }
});

test('with credentials: list, read, search, wait, delete', async () => {
  const list = await mailpit.listMessages();
  assert.deepEqual(list.messages.map((m) => m.Subject), [invoice.subject, shipped.subject, plain.subject]);
  const info = await mailpit.getInfo();
  assert.equal(info.Messages, 3);
  const summary = await mailpit.getMessageSummary(list.messages[2].ID);
  assert.equal(summary.Subject, plain.subject);
  const source = await mailpit.getMessageSource(list.messages[2].ID);
  assert.equal(source, plain.raw.toString());
  const found = await mailpit.searchMessages({ query: `subject:"${shipped.subject}"` });
  assert.equal(found.messages_count, 1);
  const waited = await mailpit.waitForMessage({ query: `subject:"${invoice.subject}"` }, { timeout: 5000 });
  assert.equal(waited.Subject, invoice.subject);
  await mailpit.deleteMessages({ IDs: [list.messages[0].ID] });
  assert.equal((await mailpit.listMessages()).total, 2);
  await mailpit.deleteMessages();
  assert.equal((await mailpit.listMessages()).total, 0);
});
