// What server/npm_test.go sends before each script, and what the scripts
// expect of it. The messages are files of testdata/mail; keep the
// envelopes here in step with npmFixtures in server/npm_test.go.
import { readFileSync } from 'node:fs';

export const baseURL = process.env.MAILSINK_URL;
if (!baseURL) {
  throw new Error('MAILSINK_URL is not set: run these scripts through `go test ./server -run TestNPMClients`');
}

const mail = (name) => readFileSync(new URL(`../mail/${name}`, import.meta.url));

// Sent in this order, so the invoice is the newest.
export const plain = {
  raw: mail('01-plain-ascii.eml'),
  subject: 'Lunch on Thursday?',
  envelopeFrom: 'alice@example.test',
  envelopeTo: ['bob@example.test'],
};

export const shipped = {
  raw: mail('02-alternative-text-html.eml'),
  subject: 'Your order #10442 has shipped',
  envelopeFrom: 'noreply@shop.example.test',
  envelopeTo: ['customer@example.test'],
};

// auditor@example.test is in the envelope only, like a Bcc.
export const invoice = {
  raw: mail('03-mixed-attachments.eml'),
  subject: 'Invoice INV-2024-031 and notes',
  envelopeFrom: 'ap@vendor.example.test',
  envelopeTo: ['finance@example.test', 'auditor@example.test'],
};

// The invoice's attachments, decoded here from the source, independently
// of the server.
const source = invoice.raw.toString('latin1');
const partBody = (filename) => {
  const start = source.indexOf(`filename="${filename}"\r\n\r\n`);
  if (start < 0) throw new Error(`corpus: no part ${filename}`);
  const body = source.slice(source.indexOf('\r\n\r\n', start) + 4);
  return body.slice(0, body.indexOf('\r\n------=_Part_1234_5678.1710357730'));
};
export const invoicePDF = Buffer.from(partBody('INV-2024-031.pdf'), 'base64');
export const invoiceNotes = Buffer.from(partBody('delivery-notes.txt'), 'latin1');
