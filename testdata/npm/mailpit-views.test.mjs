// The npm package mailpit-api, unmodified, against mailsink's rendered
// views, thumbnails and HTML and link checks. server/npm_test.go sends the
// three messages of corpus.mjs and then views.eml, the newest: HTML with an
// inline PNG (8x6), links to 127.0.0.1 and a <script>.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MailpitClient } from 'mailpit-api';
import { baseURL, invoice } from './corpus.mjs';

const mailpit = new MailpitClient(baseURL);
const ids = {};

// jpegSize reads a JPEG's dimensions from its SOF marker.
function jpegSize(buf) {
  assert.equal(buf[0], 0xff);
  assert.equal(buf[1], 0xd8, 'a JPEG starts with SOI');
  for (let i = 2; i + 9 < buf.length;) {
    if (buf[i] !== 0xff) throw new Error(`no marker at ${i}`);
    const marker = buf[i + 1];
    const len = buf.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xc2) return { height: buf.readUInt16BE(i + 5), width: buf.readUInt16BE(i + 7) };
    i += 2 + len;
  }
  throw new Error('no SOF marker');
}

test('the messages are there', async () => {
  const list = await mailpit.listMessages();
  assert.equal(list.messages[0].Subject, 'Your weekly report');
  ids.views = list.messages[0].ID;
  ids.invoice = list.messages.find((m) => m.Subject === invoice.subject).ID;
  const m = await mailpit.getMessageSummary(ids.views);
  ids.chart = m.Inline.find((p) => p.FileName === 'chart.png').PartID;
  ids.pdf = (await mailpit.getMessageSummary(ids.invoice)).Attachments[0].PartID;
});

test('renderMessageHTML: the HTML, cid: images pointing at their parts', async () => {
  const html = await mailpit.renderMessageHTML(ids.views);
  assert.match(html, /Your report is ready/);
  assert.ok(html.includes(`src="/api/v1/message/${ids.views}/part/${ids.chart}"`), html);
  assert.ok(!html.includes('cid:'), 'no cid: reference is left');
  // latest, as the client asks by default
  assert.equal(await mailpit.renderMessageHTML(), html);
  // embed=1: every link opens a new tab without an opener
  const embedded = await mailpit.renderMessageHTML(ids.views, 1);
  assert.match(embedded, /<a href="http:\/\/127\.0\.0\.1:9\/report" target="_blank" rel="noreferrer noopener">/);
  // a message without HTML is a 404, as in Mailpit
  await assert.rejects(mailpit.renderMessageHTML(ids.invoice), /404/);
});

test('renderMessageHTML is served sandboxed', async () => {
  const res = await fetch(`${baseURL}/view/${ids.views}.html`);
  const csp = res.headers.get('content-security-policy');
  assert.match(csp, /^sandbox /);
  assert.ok(!csp.includes('allow-scripts') && !csp.includes('allow-same-origin'), csp);
});

test('renderMessageText: the text body', async () => {
  const text = await mailpit.renderMessageText(ids.views);
  assert.match(text, /^Your report is ready: http:\/\/127\.0\.0\.1:9\/report/);
  assert.equal(await mailpit.renderMessageText(), text);
  assert.match(await mailpit.renderMessageText(ids.invoice), /Please find invoice INV-2024-031/);
});

test('getAttachmentThumbnail: a 180x120 JPEG, blank for a part that is no image', async () => {
  for (const [id, part] of [[ids.views, ids.chart], [ids.invoice, ids.pdf]]) {
    const blob = await mailpit.getAttachmentThumbnail(id, part);
    assert.equal(blob.type, 'image/jpeg');
    assert.deepEqual(jpegSize(Buffer.from(await blob.arrayBuffer())), { width: 180, height: 120 });
  }
  await assert.rejects(mailpit.getAttachmentThumbnail(ids.views, '9.9'), /404/);
});

test('htmlCheck: Mailpit\'s shape, the script worst', async () => {
  const res = await mailpit.htmlCheck(ids.views);
  assert.deepEqual(Object.keys(res.Total).sort(), ['Nodes', 'Partial', 'Supported', 'Tests', 'Unsupported']);
  assert.ok(res.Total.Nodes > 5 && res.Total.Tests > 100, JSON.stringify(res.Total));
  assert.ok(Math.abs(res.Total.Supported + res.Total.Partial + res.Total.Unsupported - 100) < 0.01);
  assert.ok(Array.isArray(res.Platforms.ios) && res.Platforms.ios.includes('Gmail'));
  assert.equal(res.Warnings[0].Slug, 'html-script');
  const slugs = res.Warnings.map((w) => w.Slug);
  for (const want of ['css-display-flex', 'css-border-radius', 'css-at-media-prefers-color-scheme', 'css-pseudo-class-hover']) {
    assert.ok(slugs.includes(want), `${want} in ${slugs}`);
  }
  const flex = res.Warnings.find((w) => w.Slug === 'css-display-flex');
  for (const key of ['Slug', 'Title', 'Description', 'Category', 'Tags', 'Keywords', 'NotesByNumber', 'Results', 'Score']) {
    assert.ok(key in flex, key);
  }
  assert.equal(flex.Score.Found, 1);
  const r = flex.Results[0];
  assert.deepEqual(Object.keys(r).sort(), ['Family', 'Name', 'NoteNumber', 'Platform', 'Support', 'Version']);
  assert.ok(flex.Results.some((x) => x.Support === 'no'));
  // latest by default; a message without HTML is refused
  assert.equal((await mailpit.htmlCheck()).Warnings.length, res.Warnings.length);
  await assert.rejects(mailpit.htmlCheck(ids.invoice), /400/);
});

test('linkCheck: the links, loopback refused by default', async () => {
  for (const follow of [false, true]) {
    const res = await mailpit.linkCheck(ids.views, follow);
    assert.deepEqual(res.Links.map((l) => l.URL).sort(), ['http://127.0.0.1:9/report', 'http://127.0.0.1:9/unsubscribe']);
    for (const l of res.Links) {
      assert.equal(l.StatusCode, 451);
      assert.equal(l.Status, 'Blocked private/reserved address');
    }
    assert.equal(res.Errors, 2);
  }
  assert.deepEqual(await mailpit.linkCheck(ids.invoice), { Errors: 0, Links: [] });
  assert.equal((await mailpit.linkCheck()).Links.length, 2);
});
