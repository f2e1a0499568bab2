// The message view's HTML check and Link check tabs, over the API's
// html-check and link-check (Mailpit's shapes).

import { h } from './dom.js';

const pct = (n) => `${(Math.round((n || 0) * 10) / 10).toFixed(1)}%`;

// described turns caniemail's descriptions and notes, HTML made by our
// generator from its data, into nodes: text, <code> and https links only.
// DOMParser builds an inert document: nothing in it loads or runs.
function described(html) {
  const doc = new DOMParser().parseFromString(`<body>${html || ''}</body>`, 'text/html');
  const walk = (node) => [...node.childNodes].flatMap((n) => {
    if (n.nodeType === Node.TEXT_NODE) return [n.textContent];
    if (n.nodeType !== Node.ELEMENT_NODE) return [];
    const tag = n.tagName.toLowerCase();
    if (tag === 'code') return [h('code', { text: n.textContent })];
    const href = n.getAttribute('href') || '';
    if (tag === 'a' && /^https:\/\//i.test(href)) {
      return [h('a', { href, target: '_blank', rel: 'noopener noreferrer', text: n.textContent })];
    }
    return walk(n);
  });
  return walk(doc.body);
}

// htmlCheckTab shows the score and each warning, worst first; a warning
// opens to the clients that lack (or half support) it.
export function htmlCheckTab(res) {
  const t = res.Total || {};
  const warnings = res.Warnings || [];
  const summary = h('div', { class: 'check-summary' },
    h('div', { class: 'check-score' },
      h('strong', { class: 'score-yes', text: pct(t.Supported) }), ' supported · ',
      h('span', { class: 'score-partial', text: pct(t.Partial) }), ' partial · ',
      h('span', { class: 'score-no', text: pct(t.Unsupported) }), ' not supported'),
    h('div', { class: 'muted', text: `${warnings.length} ${warnings.length === 1 ? 'feature' : 'features'} to watch, over ${t.Nodes || 0} elements; ${t.Tests || 0} tests, from caniemail.com's data.` }));
  if (!warnings.length) return [summary, h('p', { class: 'muted', text: 'Nothing this message uses lacks support in the clients tested.' })];
  const list = h('ul', { class: 'check-list' }, warnings.map((w) => {
    const s = w.Score || {};
    const lacking = (w.Results || []).filter((r) => r.Support !== 'yes');
    return h('li', { class: 'check-warning', dataset: { slug: w.Slug } },
      h('details', {},
        h('summary', {},
          h('span', { class: 'check-title', text: w.Title || w.Slug }),
          h('span', { class: 'badge', text: w.Category || '' }),
          h('span', { class: 'muted', text: ` found ${s.Found || 0}× · ` }),
          h('span', { class: 'score-yes', text: pct(s.Supported) }), ' / ',
          h('span', { class: 'score-partial', text: pct(s.Partial) }), ' / ',
          h('span', { class: 'score-no', text: pct(s.Unsupported) })),
        h('p', {}, ...described(w.Description)),
        lacking.length ? h('ul', { class: 'check-clients' }, lacking.map((r) => h('li', { class: r.Support === 'no' ? 'score-no' : 'score-partial' },
          `${r.Name}: ${r.Support === 'no' ? 'not supported' : 'partial'}`,
          r.NoteNumber && w.NotesByNumber && w.NotesByNumber[r.NoteNumber] ? [' — ', ...described(w.NotesByNumber[r.NoteNumber])] : []))) : null,
        w.URL && /^https:\/\//i.test(w.URL) ? h('a', { href: w.URL, target: '_blank', rel: 'noopener noreferrer', text: 'caniemail.com' }) : null));
  }));
  return [summary, list];
}

// linkCheckTab asks before it checks: the check makes mailsink send a
// request to every link. run(follow) returns the API's answer.
export function linkCheckTab(run) {
  const follow = h('input', { type: 'checkbox', id: 'link-follow' });
  const out = h('div', { class: 'link-results' });
  const button = h('button', { type: 'button', class: 'btn small', id: 'link-check-run', text: 'Check links',
    onclick: async () => {
      button.disabled = true;
      out.replaceChildren(h('p', { class: 'muted', text: 'Checking…' }));
      try {
        const res = await run(follow.checked);
        const links = res.Links || [];
        out.replaceChildren(
          h('p', { class: 'muted', text: links.length ? `${links.length} ${links.length === 1 ? 'link' : 'links'}, ${res.Errors || 0} with errors.` : 'This message has no http(s) links.' }),
          links.length ? h('table', { class: 'headers links' }, h('tbody', {}, links.map((l) => h('tr', { class: l.StatusCode === 0 || l.StatusCode >= 400 ? 'link-bad' : 'link-ok' },
            h('td', { class: 'link-status', text: l.StatusCode ? String(l.StatusCode) : '—' }),
            h('td', { text: l.Status || '' }),
            h('td', { class: 'link-url', text: l.URL })))))
            : null,
          links.some((l) => l.StatusCode === 451)
            ? h('p', { class: 'muted', text: 'Links to this machine or a private network are not checked unless mailsink runs with MAILSINK_LINK_CHECK_ALLOW_PRIVATE=true.' })
            : null);
      } catch (err) {
        out.replaceChildren(h('p', { class: 'error', text: err.message }));
      } finally {
        button.disabled = false;
      }
    } });
  return [h('div', { class: 'html-bar' },
    h('span', { class: 'muted', text: 'Sends a HEAD request to each http(s) link of the message.' }),
    h('label', {}, follow, ' follow redirects'),
    button), out];
}
