// The npm package mailpit-api, unmodified, against mailsink's tags, info
// and web UI configuration. server/npm_test.go gives this script a sink of
// its own holding the three messages of corpus.mjs; the tests run in order
// and share what they find.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MailpitClient } from 'mailpit-api';
import { baseURL, plain, shipped, invoice } from './corpus.mjs';

const mailpit = new MailpitClient(baseURL);
const ids = {};

test('getInfo: Mailpit\'s AppInformation, runtime stats filled in', async () => {
  const info = await mailpit.getInfo();
  assert.equal(info.Messages, 3);
  assert.equal(info.Unread, 3);
  assert.deepEqual(info.Tags, {});
  assert.equal(info.LatestVersion, 'disabled');
  assert.equal(info.Database, ':memory:');
  assert.ok(info.DatabaseSize > 0);
  assert.equal(typeof info.Version, 'string');
  const rs = info.RuntimeStats;
  assert.equal(rs.SMTPAccepted, 3);
  assert.equal(rs.SMTPAcceptedSize, plain.raw.length + shipped.raw.length + invoice.raw.length);
  assert.equal(rs.SMTPRejected, 0);
  assert.equal(rs.SMTPIgnored, 0);
  assert.equal(rs.MessagesDeleted, 0);
  assert.ok(rs.Memory > 0, `Memory ${rs.Memory}`);
  assert.ok(rs.Uptime >= 0);
});

test('getConfiguration: Mailpit\'s web UI configuration', async () => {
  const c = await mailpit.getConfiguration();
  assert.equal(c.Label, '');
  assert.equal(c.MessageRelay.Enabled, false);
  assert.equal(c.MessageRelay.SMTPServer, '');
  assert.equal(c.SpamAssassin, false);
  assert.equal(c.ChaosEnabled, true);
  assert.equal(c.DuplicatesIgnored, false);
  assert.equal(c.HideDeleteAllButton, false);
});

test('getTags: none yet', async () => {
  assert.deepEqual(await mailpit.getTags(), []);
  const list = await mailpit.listMessages();
  [ids.invoice, ids.shipped, ids.plain] = list.messages.map((m) => m.ID);
  assert.deepEqual(list.messages.map((m) => m.Tags), [[], [], []]);
});

test('setTags: replaces, cleaned as Mailpit cleans names', async () => {
  assert.equal(await mailpit.setTags({ IDs: [ids.invoice, ids.shipped], Tags: ['Finance', ' to  do ', 'finance'] }), 'ok');
  assert.deepEqual(await mailpit.getTags(), ['Finance', 'to do']);
  const m = await mailpit.getMessageSummary(ids.invoice);
  assert.deepEqual(m.Tags, ['Finance', 'to do']);
  const list = await mailpit.listMessages();
  assert.deepEqual(list.tags, ['Finance', 'to do']);
  assert.deepEqual(list.messages.map((m) => m.Tags), [['Finance', 'to do'], ['Finance', 'to do'], []]);
  assert.deepEqual((await mailpit.getInfo()).Tags, { Finance: 2, 'to do': 2 });
});

test('searchMessages: tag:, quoted names, is:tagged', async () => {
  const found = async (query) => (await mailpit.searchMessages({ query })).messages.map((m) => m.ID);
  assert.deepEqual(await found('tag:finance'), [ids.invoice, ids.shipped]);
  assert.deepEqual(await found('tag:"to do"'), [ids.invoice, ids.shipped]);
  assert.deepEqual(await found('tag:fin'), []);
  assert.deepEqual(await found('tag:finance has:attachment'), [ids.invoice]);
  assert.deepEqual(await found('is:tagged'), [ids.invoice, ids.shipped]);
  assert.deepEqual(await found('-is:tagged'), [ids.plain]);
  const waited = await mailpit.waitForMessage({ query: 'tag:"to do" -has:attachment' }, { timeout: 2000, interval: 50 });
  assert.equal(waited.ID, ids.shipped);
});

test('renameTag: on every message; never onto another tag', async () => {
  assert.equal(await mailpit.renameTag('to do', 'Later'), 'ok');
  assert.deepEqual(await mailpit.getTags(), ['Finance', 'Later']);
  assert.deepEqual((await mailpit.getMessageSummary(ids.shipped)).Tags, ['Finance', 'Later']);
  await assert.rejects(mailpit.renameTag('Later', 'FINANCE'), /409/);
  await assert.rejects(mailpit.renameTag('nothing', 'x'), /404/);
});

test('deleteTag: from every message, the messages stay', async () => {
  assert.equal(await mailpit.deleteTag('finance'), 'ok');
  assert.deepEqual(await mailpit.getTags(), ['Later']);
  assert.equal((await mailpit.listMessages()).total, 3);
  await assert.rejects(mailpit.deleteTag('finance'), /404/);
});

test('setTags without Tags removes them', async () => {
  await mailpit.setTags({ IDs: [ids.shipped] });
  assert.deepEqual((await mailpit.getMessageSummary(ids.shipped)).Tags, []);
  assert.deepEqual((await mailpit.getInfo()).Tags, { Later: 1 });
});

test('getInfo after deleting: MessagesDeleted, tags gone with their messages', async () => {
  await mailpit.deleteMessages();
  const info = await mailpit.getInfo();
  assert.equal(info.Messages, 0);
  assert.equal(info.RuntimeStats.MessagesDeleted, 3);
  assert.deepEqual(info.Tags, {});
  assert.deepEqual(await mailpit.getTags(), []);
});
