// The message view: the open message's summary, tags, read state and its
// tabs. It reads state.open and state.openMsg; the list (inbox.js) keeps
// them in step with live frames and calls back in here.

import { h, $, addr, addrList, size, fullDate, toast } from './dom.js';
import * as api from './api.js';
import { state, indexOf, render, showPane } from './state.js';
import { navigate } from './router.js';
import { htmlCheckTab, linkCheckTab } from './checks.js';
import { linked, htmlTab, headersTab, attachmentsTab, deliveryTab, WIDTHS } from './tabs.js';
import { pref, setPref } from './prefs.js';

const TABS = [
  ['html', 'HTML'], ['text', 'Text'], ['source', 'Source'],
  ['headers', 'Headers'], ['attachments', 'Attachments'], ['delivery', 'Delivery'],
  ['html-check', 'HTML check'], ['link-check', 'Link check'],
];

// What the view calls back into the list: a click on a tag filters by it;
// a tag edit made while live updates are down reloads the list.
let hooks = { filterTag: () => {}, reload: () => {} };
export function useList(h) { hooks = h; }

let openSeq = 0;

// The width the HTML is previewed at, kept across messages and reloads.
let preview = pref('preview', 'desktop');
if (!WIDTHS.some(([k]) => k === preview)) preview = 'desktop';

export async function openMessage(id) {
  const seq = ++openSeq;
  navigate(`#/message/${encodeURIComponent(id)}`);
  state.open = id;
  state.remote = false;
  showPane();
  render();
  try {
    const msg = await api.message(id); // marks it read; the stream says so too
    if (seq !== openSeq) return;
    const i = indexOf(id);
    if (i >= 0 && !state.messages[i].Read) {
      state.messages[i].Read = true;
      state.unread = Math.max(0, state.unread - 1);
    }
    msg.Read = true;
    state.openMsg = msg;
    renderMessage();
    render();
  } catch (err) {
    if (seq !== openSeq) return;
    closeMessage(`Could not open the message: ${err.message}`);
  }
}

export function closeMessage(note) {
  openSeq++;
  if (state.view === 'messages') navigate('#/');
  state.open = null;
  state.openMsg = null;
  delete $('message').dataset.id;
  $('tab-body').replaceChildren();
  showPane();
  if (note) toast(note);
  render();
}

function renderMessage() {
  const m = state.openMsg;
  showPane();
  $('message').dataset.id = m.ID;
  $('msg-body').scrollTop = 0;
  $('m-subject').textContent = m.Subject || '(no subject)';
  $('download-raw').setAttribute('href', `${api.rawURL(m.ID)}?dl=1`);
  $('download-raw').setAttribute('download', `${m.ID}.eml`);
  const meta = [
    ['From', addr(m.From)],
    ['To', longList(m.To)],
    ['Cc', longList(m.Cc)],
    ['Bcc', longList(m.Bcc)],
    ['Reply-To', addrList(m.ReplyTo)],
    ['Date', fullDate(m.Date)],
    ['Size', size(m.Size)],
  ].filter(([, v]) => v);
  $('m-meta').replaceChildren(...meta.flatMap(([k, v]) => [h('dt', { text: k }), typeof v === 'string' ? h('dd', { text: v }) : v]),
    h('dt', { text: 'Tags' }), h('dd', { id: 'm-tags', class: 'tags' }));
  renderMessageTags();
  // What the parser could not make sense of is said, not hidden: the raw
  // source (Source tab, download) is always intact.
  const errs = m.Errors || [];
  $('m-errors').hidden = errs.length === 0;
  $('m-errors').replaceChildren(...(errs.length ? [h('strong', { text: 'This message is malformed: ' }), errs.join('; '), ' — the Source tab shows it as received.'] : []));
  renderReadButton();
  const n = (m.Attachments || []).length + (m.Inline || []).length;
  $('tabs').replaceChildren(...TABS.map(([key, label]) => {
    const disabled = ((key === 'html' || key === 'html-check') && !m.HTML) || (key === 'attachments' && n === 0);
    return h('button', {
      type: 'button', class: 'tab', role: 'tab', dataset: { tab: key }, disabled,
      onclick: () => { state.tab = key; renderTab(); },
    }, label, key === 'attachments' && n ? h('span', { class: 'badge', text: String(n) }) : null);
  }));
  renderTab();
}

// longList shows up to 5 addresses and collapses the rest behind a count.
// The rest is in the page, hidden, so that print shows every address.
function longList(list) {
  const all = list || [];
  if (all.length <= 5) return addrList(all);
  const rest = h('span', { class: 'addr-rest', text: `, ${addrList(all.slice(5))}` });
  const more = h('button', {
    type: 'button', class: 'link-btn addr-more', text: `and ${all.length - 5} more`,
    onclick: () => { rest.classList.add('shown'); more.remove(); },
  });
  return h('dd', { class: 'addr-list' }, addrList(all.slice(0, 5)), rest, ' ', more);
}

// tagChips shows tags as buttons that filter by them. Names reach the page
// as text only.
export function tagChips(tags) {
  return (tags || []).map((t) => h('button', {
    type: 'button', class: 'tag', text: t, title: `Show messages tagged “${t}”`, dataset: { tag: t },
    onclick: (e) => { e.stopPropagation(); hooks.filterTag(t); },
  }));
}

// renderMessageTags shows the open message's tags, each a filter, and an
// editor: the names, comma-separated, replace its tags (Mailpit's PUT
// /api/v1/tags); the change comes back as an "update" frame to every tab.
export function renderMessageTags() {
  const m = state.openMsg;
  const dd = $('m-tags');
  if (!m || !dd) return;
  const tags = m.Tags || [];
  const edit = () => {
    const input = h('input', {
      type: 'text', id: 'tag-input', class: 'tag-input', value: tags.join(', '), autocomplete: 'off', spellcheck: 'false',
      'aria-label': 'Tags, comma-separated', placeholder: 'tags, comma-separated',
    });
    const save = () => {
      const names = input.value.split(',').map((t) => t.trim()).filter(Boolean);
      api.setTags([m.ID], names).then(() => {
        if (!state.live) hooks.reload(); // no frame will come: the listing says what the server kept
      }, (err) => toast(`Tagging failed: ${err.message}`));
      renderMessageTags();
    };
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') { e.preventDefault(); save(); }
      if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); renderMessageTags(); }
    });
    dd.replaceChildren(input,
      h('button', { type: 'button', class: 'btn small', id: 'tag-save', text: 'Save', onclick: save }),
      h('button', { type: 'button', class: 'link-btn', text: 'Cancel', onclick: () => renderMessageTags() }));
    input.focus();
  };
  dd.replaceChildren(...(tags.length ? tagChips(tags) : [h('span', { class: 'muted', text: 'none' })]),
    h('button', { type: 'button', class: 'link-btn', id: 'edit-tags', text: tags.length ? 'Edit' : 'Add', onclick: edit }));
}

export function renderReadButton() {
  if (state.openMsg) $('toggle-read').textContent = state.openMsg.Read ? 'Mark unread' : 'Mark read';
}

// toggleRead flips the open message's read state on the server; the
// "update" frame that follows changes the button.
export function toggleRead() {
  const m = state.openMsg;
  if (m) api.setRead([m.ID], !m.Read).catch((err) => toast(`Failed: ${err.message}`));
}

// printMessage prints the header and the body; the print stylesheet
// leaves out the rest of the page. From a tab other than the body's, the
// body is shown first: the HTML is printed once its frame has loaded.
export function printMessage() {
  const m = state.openMsg;
  if (!m) return;
  if (/\btab-(html|text)$/.test($('tab-body').className)) {
    window.print();
    return;
  }
  state.tab = m.HTML ? 'html' : 'text';
  renderTab();
  const frame = $('tab-body').querySelector('iframe.html-frame');
  if (frame) frame.addEventListener('load', () => window.print(), { once: true });
  else window.print();
}

function renderTab() {
  const m = state.openMsg;
  if (!m) return;
  let tab = state.tab;
  if ((tab === 'html' || tab === 'html-check') && !m.HTML) tab = 'text';
  if (tab === 'attachments' && !(m.Attachments || []).length && !(m.Inline || []).length) tab = m.HTML ? 'html' : 'text';
  for (const b of $('tabs').children) b.setAttribute('aria-selected', b.dataset.tab === tab ? 'true' : 'false');
  const body = $('tab-body');
  body.className = `tab-body tab-${tab}`;
  switch (tab) {
    case 'html': body.replaceChildren(...htmlTab(m, {
      remote: state.remote,
      toggleRemote: () => { state.remote = !state.remote; renderTab(); },
      width: preview,
      setWidth: (w) => { preview = w; setPref('preview', w); renderTab(); },
    })); break;
    case 'text': body.replaceChildren(h('pre', { class: 'text' }, ...linked(m.Text || '(this message has no text body)'))); break;
    case 'source': lazy(body, () => api.raw(m.ID), (raw) => [h('pre', { class: 'source', text: raw })]); break;
    case 'headers': lazy(body, () => api.headers(m.ID), headersTab); break;
    case 'attachments': body.replaceChildren(...attachmentsTab(m)); break;
    case 'delivery': body.replaceChildren(deliveryTab(m)); break;
    case 'html-check': lazy(body, () => api.htmlCheck(m.ID), htmlCheckTab); break;
    case 'link-check': body.replaceChildren(...linkCheckTab((follow) => api.linkCheck(m.ID, follow))); break;
  }
}

// lazy fills body with what fetch returns, unless the view moved on.
function lazy(body, fetch, build) {
  const seq = openSeq;
  const tab = body.className;
  body.replaceChildren(h('p', { class: 'muted', text: 'Loading…' }));
  fetch().then((v) => {
    if (seq === openSeq && body.className === tab) body.replaceChildren(...build(v));
  }, (err) => {
    if (seq === openSeq && body.className === tab) body.replaceChildren(h('p', { class: 'error', text: err.message }));
  });
}
