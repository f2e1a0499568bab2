// The rest of the unmodified mailpit-api client's methods against mailsink:
// chaos triggers, waitForMessages and deleteMessagesBySearch. (The other
// scripts cover the rest; server/npm_test.go checks that every method of
// the client is called by one of them.) server/npm_test.go sends the three
// messages of corpus.mjs first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MailpitClient } from 'mailpit-api';
import { baseURL, plain, shipped, invoice } from './corpus.mjs';

const mailpit = new MailpitClient(baseURL);

test('getChaosTriggers and setChaosTriggers: Mailpit shape, omitted triggers reset', async () => {
  assert.deepEqual(await mailpit.getChaosTriggers(), {
    Sender: { ErrorCode: 451, Probability: 0 },
    Recipient: { ErrorCode: 451, Probability: 0 },
    Authentication: { ErrorCode: 535, Probability: 0 },
  });
  const set = await mailpit.setChaosTriggers({ Recipient: { ErrorCode: 550, Probability: 25 } });
  assert.deepEqual(set.Recipient, { ErrorCode: 550, Probability: 25 });
  assert.deepEqual(set.Sender, { ErrorCode: 451, Probability: 0 });
  assert.deepEqual((await mailpit.getChaosTriggers()).Recipient, { ErrorCode: 550, Probability: 25 });
  const reset = await mailpit.setChaosTriggers();
  assert.equal(reset.Recipient.Probability, 0);
});

test('waitForMessages: the three already there, a query, and a timeout', async () => {
  const all = await mailpit.waitForMessages({ count: 3 }, { timeout: 2000, interval: 50 });
  assert.equal(all.messages_count, 3);
  const one = await mailpit.waitForMessages({ query: `subject:"${shipped.subject}"` }, { timeout: 2000, interval: 50 });
  assert.deepEqual(one.messages.map((m) => m.Subject), [shipped.subject]);
  await assert.rejects(
    mailpit.waitForMessages({ query: 'subject:never-sent' }, { timeout: 300, interval: 50 }),
    /Timeout waiting for messages matching query "subject:never-sent"/,
  );
});

test('deleteMessagesBySearch: only the matches go', async () => {
  assert.equal(await mailpit.deleteMessagesBySearch({ query: `from:${plain.envelopeFrom}` }), 'ok');
  const left = await mailpit.listMessages();
  assert.deepEqual(left.messages.map((m) => m.Subject).sort(), [invoice.subject, shipped.subject].sort());
  assert.equal(left.total, 2);
});
