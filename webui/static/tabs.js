// The message view's tabs, as nodes built from a message's JSON: the HTML
// frame, links in text, decoded headers, attachments, delivery facts.
// Nothing here fetches; the view passes in what each tab shows.

import { h, size, fullDate } from './dom.js';
import * as api from './api.js';
import { go } from './router.js';

// linked splits text into text nodes and links for its http(s) and mailto
// URLs. Only those schemes become links (never javascript: or data:), and
// they open in a new tab without the inbox as referrer or opener.
export function linked(text) {
  const out = [];
  const re = /\b(?:https?:\/\/|mailto:)[^\s<>"'()]+[^\s<>"'().,;:!?]/gi;
  let at = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > at) out.push(text.slice(at, m.index));
    out.push(h('a', { href: m[0], text: m[0], target: '_blank', rel: 'noopener noreferrer' }));
    at = m.index + m[0].length;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

// The widths the HTML can be previewed at: the pane's, a tablet's, a phone's.
export const WIDTHS = [['desktop', 'Desktop', 0], ['tablet', 'Tablet', 768], ['phone', 'Phone', 375]];

let fitting = null; // the ResizeObserver of the frame shown

// htmlTab shows the message's HTML in a sandboxed frame, as wide as the
// pane or as a tablet or a phone (opts.width, one of WIDTHS). A frame
// wider than the pane is scaled down to fit it, so a layout is seen whole
// as that screen lays it out; at the pane's width a layout wider than the
// pane scrolls inside the frame. opts.remote says whether remote images
// load; opts.toggleRemote and opts.setWidth(key) change them.
export function htmlTab(m, opts) {
  // No allow-scripts and no allow-same-origin: the message can neither run
  // code nor reach this page. /view/ sends its own CSP sandbox as well.
  const frame = h('iframe', {
    class: 'html-frame',
    title: 'Message HTML',
    sandbox: 'allow-popups allow-popups-to-escape-sandbox',
    referrerpolicy: 'no-referrer',
    src: api.viewURL(m.ID, opts.remote),
  });
  const [key, , px] = WIDTHS.find(([k]) => k === opts.width) || WIDTHS[0];
  const wrap = h('div', { class: px ? 'frame-wrap sized' : 'frame-wrap', dataset: { width: key } }, frame);
  const note = h('span', { class: 'preview-note muted', id: 'preview-note' });
  if (fitting) fitting.disconnect();
  fitting = null;
  if (px) {
    const fit = () => {
      const scale = Math.min(1, wrap.clientWidth / px);
      frame.style.width = `${px}px`;
      frame.style.height = `${Math.floor(wrap.clientHeight / scale)}px`;
      frame.style.transform = scale < 1 ? `scale(${scale})` : '';
      frame.style.marginLeft = scale < 1 ? '0' : '';
      note.textContent = scale < 1 ? `${px} px, shown at ${Math.round(scale * 100)}%` : `${px} px`;
    };
    fitting = new ResizeObserver(fit);
    fitting.observe(wrap);
  }
  const bar = h('div', { class: 'html-bar' },
    h('span', { class: 'muted', text: opts.remote ? 'Remote images are shown.' : 'Remote images are blocked.' }),
    h('button', {
      type: 'button', class: 'btn small',
      text: opts.remote ? 'Block remote images' : 'Show remote images',
      onclick: opts.toggleRemote,
    }),
    h('span', { class: 'spacer' }),
    note,
    h('div', { class: 'seg', role: 'group', 'aria-label': 'Preview width' }, WIDTHS.map(([k, label, w]) => h('button', {
      type: 'button', class: 'btn small', dataset: { width: k }, 'aria-pressed': k === key ? 'true' : 'false',
      title: w ? `As a ${label.toLowerCase()} ${w} px wide shows it` : 'As wide as this pane',
      text: label, onclick: () => opts.setWidth(k),
    }))),
    h('a', {
      class: 'btn small', id: 'html-open', href: api.viewURL(m.ID, opts.remote), target: '_blank', rel: 'noopener noreferrer',
      text: 'Open', title: 'The HTML alone in a new tab, sandboxed as here',
    }));
  return [bar, wrap];
}

// decodeWords decodes RFC 2047 encoded words (=?utf-8?B?...?=, =?iso-8859-1?Q?...?=)
// for reading; whitespace between two encoded words goes, as the RFC says.
// A word in a charset this browser cannot decode, or malformed, stays as
// written. The Source tab keeps every header raw.
function decodeWords(v) {
  if (!v.includes('=?')) return v;
  const word = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;
  return v.replace(/(=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=)\s+(?==\?[^?\s]+\?[bBqQ]\?)/g, '$1')
    .replace(word, (all, charset, enc, text) => {
      try {
        let bytes;
        if (enc.toUpperCase() === 'B') {
          bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
        } else {
          const q = text.replace(/_/g, ' ');
          const out = [];
          for (let i = 0; i < q.length; i++) {
            if (q[i] === '=' && /^[0-9a-fA-F]{2}$/.test(q.slice(i + 1, i + 3))) {
              out.push(parseInt(q.slice(i + 1, i + 3), 16));
              i += 2;
            } else out.push(q.charCodeAt(i) & 0xff);
          }
          bytes = Uint8Array.from(out);
        }
        return new TextDecoder(charset.replace(/\*.*$/, ''), { fatal: true }).decode(bytes); // RFC 2231 language suffix dropped
      } catch {
        return all;
      }
    });
}

export function headersTab(hdrs) {
  const rows = [];
  for (const key of Object.keys(hdrs).sort()) {
    for (const v of hdrs[key] || []) {
      const shown = decodeWords(v);
      rows.push(h('tr', {}, h('th', { text: key }), h('td', shown === v ? { text: v } : { text: shown, class: 'decoded', title: `as sent: ${v}` })));
    }
  }
  return [h('table', { class: 'headers' }, h('tbody', {}, rows)),
    h('p', { class: 'muted small', text: 'Encoded words are shown decoded (hover for the value as sent); the Source tab has every header raw.' })];
}

const mediaType = (p) => (p.ContentType || '').split(';')[0].trim().toLowerCase();
const RASTER = /^image\/(png|jpe?g|gif|webp|bmp|avif)$/;
// A sandboxed tab shows these; it would only download anything else.
const SHOWN = /^(image|text|audio|video)\/|^application\/(json|xml)$/;

// attachmentsTab lists the parts: each named, with its type and size;
// images shown, every type downloadable, and the ones a browser shows
// opened in a new tab. The part route serves every part with a CSP
// sandbox, so an HTML or SVG part runs no script there; a browser's PDF
// viewer does not start in such a sandbox, so a PDF is a download.
export function attachmentsTab(m) {
  const section = (title, parts) => parts.length ? [
    h('h2', { text: title }),
    h('ul', { class: 'parts' }, parts.map((p) => partItem(m, p))),
  ] : [];
  return [...section('Attachments', m.Attachments || []), ...section('Inline parts', m.Inline || [])];
}

function partItem(m, p) {
  const url = api.partURL(m.ID, p.PartID);
  const type = mediaType(p);
  const raster = RASTER.test(type);
  const svg = type === 'image/svg+xml'; // as an <img>, an SVG runs nothing and loads nothing
  const name = p.FileName || p.ContentID || `part ${p.PartID}`;
  const thumb = raster ? h('img', { class: 'thumb', src: api.thumbURL(m.ID, p.PartID), alt: '', loading: 'lazy' })
    : svg ? h('img', { class: 'thumb', src: url, alt: '', loading: 'lazy' })
      : h('span', { class: 'thumb file', text: ext(p) });
  return h('li', { class: 'part', dataset: { part: p.PartID } },
    h('div', { class: 'part-row' },
      thumb,
      h('div', { class: 'part-info' },
        h('div', { class: 'part-name', text: name, title: name }),
        h('div', { class: 'muted', text: [p.ContentType, size(p.Size), p.ContentID ? `cid:${p.ContentID}` : ''].filter(Boolean).join(' · ') }),
        type === 'application/pdf' ? h('div', { class: 'muted', text: 'Download to read: a PDF viewer does not run in the sandbox parts open in.' }) : null),
      h('div', { class: 'part-actions' },
        SHOWN.test(type) ? h('a', {
          class: 'btn small part-open', href: url, target: '_blank', rel: 'noopener noreferrer',
          text: 'Open', title: 'In a new tab, sandboxed: nothing in it runs',
        }) : null,
        h('a', { class: 'btn small part-download', href: `${url}?dl=1`, download: p.FileName || `part-${p.PartID}`, text: 'Download' }))),
    raster || svg ? h('img', { class: 'part-preview', src: url, alt: name, loading: 'lazy' }) : null);
}

function ext(p) {
  const m = /\.([a-z0-9]{1,4})$/i.exec(p.FileName || '');
  return m ? m[1].toUpperCase() : 'FILE';
}

// dkimRows shows each signature's check: pass, or why not.
function dkimRows(list) {
  if (!list) return undefined;
  if (!list.length) return 'unsigned';
  return list.map((r) => h('div', { class: `dkim dkim-${r.Result}` },
    h('strong', { text: r.Result }), h('span', { text: ` ${r.Domain || '(no domain)'}` }),
    r.Reason ? h('span', { class: 'muted', text: `: ${r.Reason}` }) : null));
}

export function deliveryTab(m) {
  const d = m.Delivery || {};
  const e = m.Envelope || {};
  const tls = d.TLS ? [d.TLSVersion || 'yes', d.TLSCipher].filter(Boolean).join(' · ') : 'no (cleartext)';
  const auth = d.AuthUser || d.AuthMechanism ? [d.AuthUser, d.AuthMechanism && `(${d.AuthMechanism})`].filter(Boolean).join(' ') : 'none';
  const rows = [
    ['Listener', [d.Listener, d.Port ? `port ${d.Port}` : ''].filter(Boolean).join(' · ')],
    ['TLS', tls],
    ['Auth user', auth],
    ['Envelope sender', e.From === '' ? '<> (null sender)' : e.From],
    ['Envelope recipients', (e.To || []).join('\n')],
    ['Client address', d.ClientAddr],
    ['HELO', d.Helo],
    ['Session', d.SessionID && [
      h('button', { type: 'button', class: 'link', id: 'session-link', text: 'SMTP session', onclick: () => go(`#/session/${encodeURIComponent(d.SessionID)}`) }),
      h('span', { class: 'muted id', text: ` ${d.SessionID}` }),
    ]],
    ['Received', fullDate(d.Received)],
    ['DKIM', dkimRows(m.DKIM)],
  ].filter(([, v]) => v !== undefined && v !== '');
  return h('dl', { class: 'delivery' }, rows.flatMap(([k, v]) => [h('dt', { text: k }), Array.isArray(v) ? h('dd', {}, v) : h('dd', { text: v })]));
}
