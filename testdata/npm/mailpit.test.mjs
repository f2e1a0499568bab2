// The npm package mailpit-api, unmodified, against mailsink's native API.
// server/npm_test.go sends the three messages of corpus.mjs first; the
// tests run in order and share what they find (the last ones delete mail).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { MailpitClient } from 'mailpit-api';
import { baseURL, plain, shipped, invoice, invoicePDF, invoiceNotes } from './corpus.mjs';

const mailpit = new MailpitClient(baseURL);
const ids = {};

test('listMessages: newest first, Mailpit summary fields', async () => {
  const list = await mailpit.listMessages();
  assert.equal(list.total, 3);
  assert.equal(list.unread, 3);
  assert.equal(list.count, 3);
  assert.equal(list.messages_count, 3);
  assert.equal(list.messages_unread, 3);
  assert.equal(list.start, 0);
  assert.deepEqual(list.tags, []);
  assert.deepEqual(list.messages.map((m) => m.Subject), [invoice.subject, shipped.subject, plain.subject]);
  [ids.invoice, ids.shipped, ids.plain] = list.messages.map((m) => m.ID);

  const m = list.messages[0];
  assert.deepEqual(m.From, { Name: 'Accounts Payable', Address: 'ap@vendor.example.test' });
  assert.deepEqual(m.To, [{ Name: 'Finance Team', Address: 'finance@example.test' }]);
  assert.deepEqual(m.Cc, []);
  assert.deepEqual(m.ReplyTo, []);
  assert.equal(m.MessageID, 'inv-2024-031.1710357730@vendor.example.test');
  assert.equal(m.Read, false);
  assert.equal(m.Attachments, 2);
  assert.equal(m.Size, invoice.raw.length);
  assert.match(m.Snippet, /^Hello, Please find invoice INV-2024-031/);
  assert.ok(!Number.isNaN(Date.parse(m.Created)), `Created ${m.Created}`);
  assert.deepEqual(m.Tags, []);

  const page = await mailpit.listMessages(1, 1);
  assert.equal(page.start, 1);
  assert.equal(page.messages_count, 3);
  assert.deepEqual(page.messages.map((m) => m.ID), [ids.shipped]);
});

test('getMessageSummary: subject, addresses, attachments, bodies', async () => {
  const m = await mailpit.getMessageSummary(ids.invoice);
  assert.equal(m.ID, ids.invoice);
  assert.equal(m.Subject, invoice.subject);
  assert.deepEqual(m.From, { Name: 'Accounts Payable', Address: 'ap@vendor.example.test' });
  assert.deepEqual(m.To, [{ Name: 'Finance Team', Address: 'finance@example.test' }]);
  // The envelope-only recipient shows as Bcc, as in Mailpit.
  assert.deepEqual(m.Bcc, [{ Name: '', Address: 'auditor@example.test' }]);
  assert.equal(m.ReturnPath, invoice.envelopeFrom);
  assert.equal(Date.parse(m.Date), Date.parse('2024-03-13T19:22:10Z'));
  assert.equal(m.Size, invoice.raw.length);
  assert.match(m.Text, /Please find invoice INV-2024-031 attached as a PDF/);
  assert.equal(m.HTML, '');
  assert.deepEqual(m.Inline, []);
  assert.deepEqual(m.ListUnsubscribe.Links, []);
  assert.deepEqual(
    m.Attachments.map((a) => [a.FileName, a.ContentType, a.Size]),
    [['INV-2024-031.pdf', 'application/pdf', invoicePDF.length], ['delivery-notes.txt', 'text/plain', invoiceNotes.length]],
  );
  const pdf = m.Attachments[0];
  assert.equal(pdf.Checksums.SHA256, createHash('sha256').update(invoicePDF).digest('hex'));
  assert.equal(pdf.Checksums.SHA1, createHash('sha1').update(invoicePDF).digest('hex'));
  ids.pdfPart = pdf.PartID;
  ids.notesPart = m.Attachments[1].PartID;

  // No ID: the client asks for "latest".
  const latest = await mailpit.getMessageSummary();
  assert.equal(latest.ID, ids.invoice);

  const alt = await mailpit.getMessageSummary(ids.shipped);
  assert.match(alt.Text, /Tracking number: 1Z999AA10123456784/);
  assert.match(alt.HTML, /<h1>Good news!<\/h1>/);
  assert.deepEqual(alt.Attachments, []);
});

test('getMessageSource: the raw message, byte for byte', async () => {
  assert.equal(await mailpit.getMessageSource(ids.invoice), invoice.raw.toString('utf8'));
  assert.equal(await mailpit.getMessageSource(ids.plain), plain.raw.toString('utf8'));
});

test('getMessageHeaders: canonical keys, raw values', async () => {
  const h = await mailpit.getMessageHeaders(ids.invoice);
  assert.deepEqual(h.Subject, [invoice.subject]);
  assert.deepEqual(h.From, ['Accounts Payable <ap@vendor.example.test>']);
  assert.deepEqual(h['Message-Id'], ['<inv-2024-031.1710357730@vendor.example.test>']);
  assert.deepEqual(h['Content-Type'], ['multipart/mixed; boundary="----=_Part_1234_5678.1710357730"']);
  assert.deepEqual(Object.keys(h), [...Object.keys(h)].sort(), 'keys are sorted');
});

test('getMessageAttachment: decoded part bytes and type', async () => {
  const pdf = await mailpit.getMessageAttachment(ids.invoice, ids.pdfPart);
  assert.equal(pdf.type, 'application/pdf');
  assert.equal(pdf.size, invoicePDF.length);
  assert.deepEqual(Buffer.from(await pdf.arrayBuffer()), invoicePDF);

  const notes = await mailpit.getMessageAttachment(ids.invoice, ids.notesPart);
  assert.match(notes.type, /^text\/plain/);
  assert.deepEqual(Buffer.from(await notes.arrayBuffer()), invoiceNotes);

  await assert.rejects(mailpit.getMessageAttachment(ids.invoice, '9'), /404/);
});

test('searchMessages and waitForMessage', async () => {
  const subjects = async (query) => (await mailpit.searchMessages({ query })).messages.map((m) => m.Subject);
  assert.deepEqual(await subjects('to:customer@example.test'), [shipped.subject]);
  assert.deepEqual(await subjects('to:auditor@example.test'), [invoice.subject]); // envelope only
  assert.deepEqual(await subjects('from:example.test'), [invoice.subject, shipped.subject, plain.subject]);
  assert.deepEqual(await subjects('has:attachment'), [invoice.subject]);
  assert.deepEqual(await subjects('"order #10442" -from:alice'), [shipped.subject]);
  assert.deepEqual(await subjects('tracking'), [shipped.subject]);
  assert.deepEqual(await subjects('nothing-matches-this'), []);

  const found = await mailpit.searchMessages({ query: 'example.test', start: 1, limit: 1 });
  assert.equal(found.messages_count, 3);
  assert.equal(found.messages.length, 1);

  const waited = await mailpit.waitForMessage({ query: 'subject:Lunch' }, { timeout: 2000, interval: 50 });
  assert.equal(waited.ID, ids.plain);

  await assert.rejects(mailpit.searchMessages({ query: '' }), /400/);
});

test('setReadStatus: by ID, by search, all', async () => {
  // Reading the invoice, the shipped mail and the plain one marked them read.
  assert.equal((await mailpit.listMessages()).unread, 0);

  assert.equal(typeof (await mailpit.setReadStatus({ IDs: [ids.invoice], Read: false })), 'string');
  let list = await mailpit.listMessages();
  assert.equal(list.unread, 1);
  assert.equal(list.messages.find((m) => m.ID === ids.invoice).Read, false);

  await mailpit.setReadStatus({ Read: false });
  assert.equal((await mailpit.listMessages()).unread, 3);

  await mailpit.setReadStatus({ Search: 'from:shop.example.test', Read: true });
  list = await mailpit.searchMessages({ query: 'is:unread' });
  assert.deepEqual(list.messages.map((m) => m.ID), [ids.invoice, ids.plain]);
  assert.equal(list.unread, 2);

  await mailpit.setReadStatus({ Read: true });
  assert.equal((await mailpit.listMessages()).unread, 0);
});

test('deleteMessages: one by ID', async () => {
  assert.equal(typeof (await mailpit.deleteMessages({ IDs: [ids.plain] })), 'string');
  const list = await mailpit.listMessages();
  assert.equal(list.total, 2);
  assert.deepEqual(list.messages.map((m) => m.ID), [ids.invoice, ids.shipped]);
  await assert.rejects(mailpit.getMessageSummary(ids.plain), /404/);
});

test('deleteMessages: all', async () => {
  assert.equal(typeof (await mailpit.deleteMessages()), 'string');
  const list = await mailpit.listMessages();
  assert.equal(list.total, 0);
  assert.deepEqual(list.messages, []);
});
