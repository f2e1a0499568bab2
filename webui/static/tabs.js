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

// htmlTab shows the message's HTML in a sandboxed frame; remote says
// whether remote images load, toggle flips that.
export function htmlTab(m, remote, toggle) {
  // No allow-scripts and no allow-same-origin: the message can neither run
  // code nor reach this page. /view/ sends its own CSP sandbox as well.
  const frame = h('iframe', {
    class: 'html-frame',
    title: 'Message HTML',
    sandbox: 'allow-popups allow-popups-to-escape-sandbox',
    referrerpolicy: 'no-referrer',
    src: api.viewURL(m.ID, remote),
  });
  const bar = h('div', { class: 'html-bar' },
    h('span', { class: 'muted', text: remote ? 'Remote images are shown.' : 'Remote images are blocked.' }),
    h('button', {
      type: 'button', class: 'btn small',
      text: remote ? 'Block remote images' : 'Show remote images',
      onclick: toggle,
    }));
  return [bar, frame];
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

export function attachmentsTab(m) {
  const section = (title, parts) => parts.length ? [
    h('h2', { text: title }),
    h('ul', { class: 'parts' }, parts.map((p) => {
      const url = api.partURL(m.ID, p.PartID);
      const isImage = /^image\/(png|jpe?g|gif|webp|bmp|avif)$/i.test(p.ContentType || '');
      return h('li', { class: 'part' },
        isImage ? h('img', { class: 'thumb', src: url, alt: '', loading: 'lazy' }) : h('span', { class: 'thumb file', text: ext(p) }),
        h('div', { class: 'part-info' },
          h('div', { class: 'part-name', text: p.FileName || p.ContentID || `part ${p.PartID}` }),
          h('div', { class: 'muted', text: [p.ContentType, size(p.Size), p.ContentID ? `cid:${p.ContentID}` : ''].filter(Boolean).join(' · ') })),
        h('a', { class: 'btn small', href: url, download: p.FileName || `part-${p.PartID}`, text: 'Download' }));
    })),
  ] : [];
  return [...section('Attachments', m.Attachments || []), ...section('Inline parts', m.Inline || [])];
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
