// The npm package mailpit-api, unmodified, sending through mailsink's
// POST /api/v1/send, and calling the two Mailpit routes a sink refuses
// (release and the SpamAssassin check), which must fail with a clear 4xx.
// server/npm_test.go runs it against a sink of its own (holding the three
// messages of corpus.mjs, which this script leaves alone).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { MailpitClient } from 'mailpit-api';
import { baseURL } from './corpus.mjs';

const mailpit = new MailpitClient(baseURL);
const pdf = Buffer.from('%PDF-1.4 invoice for the send test\n');
const png = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);
let sentID;

test('sendMessage: attachments, inline image, tags, headers; answers the ID', async () => {
  const res = await mailpit.sendMessage({
    From: { Email: 'app@example.test', Name: 'The Äpp' },
    To: [{ Email: 'npm-send@example.test', Name: 'Recipient' }, { Email: 'second@example.test' }],
    Cc: [{ Email: 'cc@example.test' }],
    Bcc: ['npm-hidden@example.test'],
    ReplyTo: [{ Email: 'reply@example.test' }],
    Subject: 'Sent with mailpit-api — ünïcode',
    Text: 'Hello from the npm client.',
    HTML: '<p>Hello <img src="cid:logo"></p>',
    Attachments: [
      { Content: pdf.toString('base64'), Filename: 'invoice.pdf', ContentType: 'application/pdf' },
      { Content: png.toString('base64'), Filename: 'logo.png', ContentType: 'image/png', ContentID: 'logo' },
    ],
    Headers: { 'X-Campaign': 'npm' },
    Tags: ['npm', 'send test'],
  });
  assert.equal(typeof res.ID, 'string');
  assert.ok(res.ID.length > 0);
  sentID = res.ID;
});

test('the sent message reads back through the same client', async () => {
  const m = await mailpit.getMessageSummary(sentID);
  assert.equal(m.Subject, 'Sent with mailpit-api — ünïcode');
  assert.deepEqual(m.From, { Name: 'The Äpp', Address: 'app@example.test' });
  assert.deepEqual(m.To.map((a) => a.Address), ['npm-send@example.test', 'second@example.test']);
  assert.deepEqual(m.Cc.map((a) => a.Address), ['cc@example.test']);
  assert.deepEqual(m.ReplyTo.map((a) => a.Address), ['reply@example.test']);
  assert.equal(m.Text, 'Hello from the npm client.');
  assert.equal(m.HTML, '<p>Hello <img src="cid:logo"></p>');
  assert.deepEqual(m.Attachments.map((a) => [a.FileName, a.ContentType, a.Size]), [['invoice.pdf', 'application/pdf', pdf.length]]);
  assert.equal(m.Attachments[0].Checksums.SHA256, createHash('sha256').update(pdf).digest('hex'));
  assert.deepEqual(m.Inline.map((a) => [a.FileName, a.ContentID]), [['logo.png', 'logo']]);

  const headers = await mailpit.getMessageHeaders(sentID);
  assert.deepEqual(headers['X-Tags'], ['npm, send test']);
  assert.deepEqual(headers['X-Campaign'], ['npm']);
  assert.equal(headers.Bcc, undefined);

  const part = await mailpit.getMessageAttachment(sentID, m.Inline[0].PartID);
  assert.deepEqual(Buffer.from(await part.arrayBuffer()), png);

  // The Bcc recipient is in the envelope, so a search finds the message.
  const found = await mailpit.searchMessages({ query: 'to:npm-hidden@example.test' });
  assert.deepEqual(found.messages.map((x) => x.ID), [sentID]);
});

test('sendMessage: a bad request is a 400 that names the field', async () => {
  await assert.rejects(
    mailpit.sendMessage({ From: { Email: 'app@example.test' }, To: [{ Email: 'x@example.test' }], Attachments: [{ Content: '%%%', Filename: 'a' }] }),
    /400 Bad Request.*Attachments\[0\]\.Content: not base64/,
  );
  await assert.rejects(mailpit.sendMessage({ To: [{ Email: 'x@example.test' }] }), /400 Bad Request.*From\.Email: required/);
});

test('releaseMessage: a clear 400, mailsink never relays mail', async () => {
  await assert.rejects(mailpit.releaseMessage(sentID, { To: ['elsewhere@example.test'] }), /400 Bad Request.*mailsink never relays mail/);
});

test('spamAssassinCheck: a clear 400, no SpamAssassin daemon is configured', async () => {
  await assert.rejects(mailpit.spamAssassinCheck(sentID), /400 Bad Request.*no SpamAssassin daemon is configured/);
  await assert.rejects(mailpit.spamAssassinCheck(), /400 Bad Request.*no SpamAssassin/); // "latest"
});
