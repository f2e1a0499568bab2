// The npm package mailhog, unmodified, against mailsink's MailHog API.
// server/npm_test.go sends the three messages of corpus.mjs first; the
// tests run in order and share what they find (the last ones delete mail).
// The package has no call to read one message or download it, so those
// tests use fetch on the same MailHog v1 routes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mailhog from 'mailhog';
import { baseURL, plain, shipped, invoice, invoicePDF, invoiceNotes } from './corpus.mjs';

const url = new URL(baseURL);
const mh = mailhog({ protocol: url.protocol, host: url.hostname, port: Number(url.port) });
const ids = {};

test('messages (GET /api/v2/messages): newest first, decoded by the client', async () => {
  const res = await mh.messages();
  assert.equal(res.total, 3);
  assert.equal(res.count, 3);
  assert.equal(res.start, 0);
  assert.deepEqual(res.items.map((m) => m.subject), [invoice.subject, shipped.subject, plain.subject]);
  [ids.invoice, ids.shipped, ids.plain] = res.items.map((m) => m.ID);

  const [inv, alt, txt] = res.items;
  assert.equal(inv.from, 'Accounts Payable <ap@vendor.example.test>');
  assert.equal(inv.to, '"Finance Team" <finance@example.test>');
  assert.equal(inv.date.toISOString(), '2024-03-13T19:22:10.000Z');
  assert.ok(!Number.isNaN(inv.deliveryDate.getTime()), 'Created is a date');
  assert.deepEqual(inv.From, { Relays: null, Mailbox: 'ap', Domain: 'vendor.example.test', Params: '' });
  assert.deepEqual(inv.To.map((p) => `${p.Mailbox}@${p.Domain}`), invoice.envelopeTo);
  assert.deepEqual(inv.Raw.To, invoice.envelopeTo);
  assert.equal(inv.Raw.From, invoice.envelopeFrom);
  assert.match(inv.text, /Please find invoice INV-2024-031 attached as a PDF/);
  assert.deepEqual(
    inv.attachments.map((a) => [a.name, a.type, a.encoding]),
    [['INV-2024-031.pdf', 'application/pdf; name="INV-2024-031.pdf"', 'base64'],
      ['delivery-notes.txt', 'text/plain; charset=UTF-8; name="delivery-notes.txt"', '7bit']],
  );
  assert.deepEqual(Buffer.from(inv.attachments[0].Body, 'base64'), invoicePDF); // Body is still encoded

  assert.match(alt.text, /Tracking number: 1Z999AA10123456784/);
  assert.match(alt.html, /<h1>Good news!<\/h1>/);
  assert.deepEqual(alt.attachments, []);
  assert.equal(alt.MIME.Parts.length, 2, 'the preamble is not a part');

  assert.match(txt.text, /free for lunch on Thursday/);
  assert.equal(txt.MIME, null);
  assert.equal(txt.Content.Size, plain.raw.length);

  const page = await mh.messages(1, 1);
  assert.equal(page.total, 3);
  assert.equal(page.count, 1);
  assert.equal(page.start, 1);
  assert.equal(page.items[0].ID, ids.shipped);
});

test('search (GET /api/v2/search): from, to, containing', async () => {
  assert.equal((await mh.latestFrom('ap@vendor.example.test')).ID, ids.invoice);
  assert.equal((await mh.latestFrom('NOREPLY@shop')).ID, ids.shipped);
  assert.equal((await mh.latestTo('customer@example.test')).ID, ids.shipped);
  assert.equal((await mh.latestTo('auditor@example.test')).ID, ids.invoice); // envelope only
  assert.equal((await mh.latestContaining('1Z999AA10123456784')).ID, ids.shipped);
  assert.equal((await mh.latestContaining('Dock: B4')).ID, ids.invoice);
  assert.equal(await mh.latestTo('nobody@example.test'), 0);

  const fromAll = await mh.search('example.test', 'from');
  assert.equal(fromAll.total, 3);
  assert.deepEqual(fromAll.items.map((m) => m.ID), [ids.invoice, ids.shipped, ids.plain]);

  const paged = await mh.search('example.test', 'from', 1, 1);
  assert.equal(paged.total, 3);
  assert.equal(paged.count, 1);
  assert.equal(paged.items[0].ID, ids.shipped);

  // No kind: the client asks for "containing". Header values count.
  const byHeader = await mh.search('inv-2024-031.1710357730@vendor');
  assert.deepEqual(byHeader.items.map((m) => m.ID), [ids.invoice]);
});

test('GET /api/v1/messages/{id}: one MailHog message', async () => {
  const res = await fetch(`${baseURL}/api/v1/messages/${ids.invoice}`);
  assert.equal(res.status, 200);
  const m = await res.json();
  assert.equal(m.ID, ids.invoice);
  assert.deepEqual(m.Content.Headers.Subject, [invoice.subject]);
  assert.equal(m.Content.Size, invoice.raw.length);
  assert.equal(m.Raw.Data, invoice.raw.toString('utf8'));
  assert.equal(m.Raw.Helo, 'client.test');
  assert.equal(m.MIME.Parts.length, 3);

  const missing = await fetch(`${baseURL}/api/v1/messages/no-such-id`);
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).Error, 'message "no-such-id" not found');
});

test('GET /api/v1/messages/{id}/download and .../mime/part/{index}/download', async () => {
  const res = await fetch(`${baseURL}/api/v1/messages/${ids.invoice}/download`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'message/rfc822');
  assert.match(res.headers.get('content-disposition'), /^attachment;/);
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), invoice.raw);

  const pdf = await fetch(`${baseURL}/api/v1/messages/${ids.invoice}/mime/part/1/download`);
  assert.equal(pdf.status, 200);
  assert.match(pdf.headers.get('content-type'), /^application\/pdf/);
  assert.deepEqual(Buffer.from(await pdf.arrayBuffer()), invoicePDF);

  const notes = await fetch(`${baseURL}/api/v1/messages/${ids.invoice}/mime/part/2/download`);
  assert.deepEqual(Buffer.from(await notes.arrayBuffer()), invoiceNotes);
});

test('deleteMessage (DELETE /api/v1/messages/{id})', async () => {
  const res = await mh.deleteMessage(ids.plain);
  assert.equal(res.statusCode, 200); // an empty body: the client hands back the response
  const left = await mh.messages();
  assert.equal(left.total, 2);
  assert.deepEqual(left.items.map((m) => m.ID), [ids.invoice, ids.shipped]);
});

test('deleteAll (DELETE /api/v1/messages, shared with Mailpit)', async () => {
  const res = await mh.deleteAll();
  assert.equal(res.statusCode, 200);
  const left = await mh.messages();
  assert.equal(left.total, 0);
  assert.equal(left.count, 0);
  assert.deepEqual(left.items, []);
});
