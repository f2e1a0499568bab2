// The inbox. State lives in `state`; rendering is batched per animation
// frame, so a burst of thousands of live events costs one repaint.

import { h, $, addr, addrShort, addrList, size, when, fullDate, plural } from './dom.js';
import * as api from './api.js';
import { Stream } from './stream.js';

const PAGE = 100;

const state = {
  query: '',        // what the user typed
  port: '',         // listener port filter, '' for all
  start: 0,
  messages: [],     // summaries on this page, newest first
  matched: 0,       // messages matching the query, over all pages
  total: 0,         // messages in the store
  unread: 0,        // unread in the store
  loaded: false,
  selected: null,   // ID the keyboard cursor is on
  open: null,       // ID of the message shown
  openMsg: null,    // its full JSON
  tab: 'html',
  remote: false,    // remote images allowed in the open message
  ports: new Set(),
  live: false,
};

const fullQuery = () => [state.query.trim(), state.port ? `port:${state.port}` : ''].filter(Boolean).join(' ');
const indexOf = (id) => state.messages.findIndex((m) => m.ID === id);

// ---------- loading ----------

let loadSeq = 0;
let pending = null;   // frames received while a load is in flight
let reloadTimer = 0;

async function load() {
  const seq = ++loadSeq;
  if (!pending) pending = [];
  try {
    const res = await api.list(fullQuery(), state.start, PAGE);
    if (seq !== loadSeq) return;
    state.messages = res.messages || [];
    state.matched = res.messages_count ?? res.total ?? state.messages.length;
    state.total = res.total ?? state.total;
    state.unread = res.unread ?? state.unread;
    state.loaded = true;
    state.messages.forEach(notePort);
    const replay = pending;
    pending = null;
    for (const f of replay) apply(f);
    if (state.start > 0 && state.messages.length === 0 && state.matched > 0) {
      state.start = Math.max(0, Math.floor((state.matched - 1) / PAGE) * PAGE);
      load();
      return;
    }
    render();
  } catch (err) {
    if (seq !== loadSeq) return;
    pending = null;
    toast(`Could not load messages: ${err.message}`);
  }
}

// reloadSoon reloads at most every 300ms while events keep coming.
function reloadSoon() {
  if (reloadTimer) return;
  reloadTimer = setTimeout(() => { reloadTimer = 0; load(); }, 300);
}

// ---------- live events ----------

function onFrame(f) {
  if (pending) pending.push(f);
  else apply(f);
}

function apply(f) {
  const d = f.Data || {};
  switch (f.Type) {
    case 'new':
      notePort(d);
      if (state.start === 0 && !fullQuery()) {
        if (indexOf(d.ID) >= 0) break; // already in the listing this load returned
        state.messages.unshift(d);
        if (state.messages.length > PAGE) state.messages.length = PAGE;
        state.matched++;
      } else if (state.start === 0) {
        reloadSoon();
      } else if (!fullQuery()) {
        state.matched++; // the page shifts; the user pages back to see it
      }
      // Count now; the next stats frame has the store's own numbers.
      state.total++;
      if (!d.Read) state.unread++;
      break;
    case 'delete':
    case 'evict':
      removeLocal(d.IDs || (d.ID ? [d.ID] : []), f.Type === 'evict' ? 'evicted' : 'deleted');
      break;
    case 'truncate':
      state.messages = [];
      state.matched = 0;
      state.start = 0;
      if (state.open) closeMessage('All messages were deleted.');
      break;
    case 'update': {
      const ids = new Set(d.IDs || (d.ID ? [d.ID] : []));
      for (const m of state.messages) {
        if (ids.has(m.ID) && m.Read !== !!d.Read) {
          m.Read = !!d.Read;
          state.unread = Math.max(0, state.unread + (m.Read ? -1 : 1));
        }
      }
      if (state.openMsg && ids.has(state.open)) {
        state.openMsg.Read = !!d.Read;
        renderReadButton();
      }
      if (fullQuery().includes('is:')) reloadSoon();
      break;
    }
    case 'stats':
      state.total = d.Total ?? state.total;
      state.unread = d.Unread ?? state.unread;
      if (!fullQuery()) state.matched = state.total;
      break;
    default:
      reloadSoon(); // a type this page does not know: resynchronise
  }
  render();
}

// removeLocal drops ids from the page. verb says how they went, for the
// note shown when the open message goes; null for the user's own delete.
function removeLocal(ids, verb) {
  if (!ids.length) return;
  const gone = new Set(ids);
  const before = state.messages.length;
  const selIdx = indexOf(state.selected);
  let unread = 0;
  state.messages = state.messages.filter((m) => {
    if (!gone.has(m.ID)) return true;
    if (!m.Read) unread++;
    return false;
  });
  const removed = before - state.messages.length;
  state.unread = Math.max(0, state.unread - unread);
  if (!fullQuery()) state.matched = Math.max(0, state.matched - removed);
  if (gone.has(state.selected)) {
    const next = state.messages[Math.min(selIdx, state.messages.length - 1)];
    state.selected = next ? next.ID : null;
  }
  if (gone.has(state.open)) closeMessage(verb && `This message was ${verb}.`);
  if (removed && state.messages.length < PAGE && state.matched > state.start + state.messages.length) reloadSoon();
}

function notePort(s) {
  const p = s && s.Delivery && s.Delivery.Port;
  if (p > 0 && !state.ports.has(p)) {
    state.ports.add(p);
    renderPorts();
  }
}

// ---------- rendering ----------

let frame = 0;
function render() {
  if (!frame) frame = requestAnimationFrame(() => { frame = 0; paint(); });
}

function paint() {
  paintList();
  const q = fullQuery();
  $('counts').textContent = q
    ? `${plural(state.matched, 'match', 'matches')}`
    : `${state.unread.toLocaleString()} unread`; // the pager shows the total
  document.title = state.unread > 0 ? `(${state.unread.toLocaleString()}) mailsink` : 'mailsink';
  const n = state.messages.length;
  $('range').textContent = n ? `${(state.start + 1).toLocaleString()}–${(state.start + n).toLocaleString()} of ${state.matched.toLocaleString()}` : '';
  $('prev').disabled = state.start === 0;
  $('next').disabled = state.start + n >= state.matched;
  const empty = $('empty');
  empty.hidden = n > 0 || !state.loaded;
  empty.textContent = q ? 'No messages match this search.' : 'No messages yet. Send mail to any listener and it appears here.';
}

const rows = new Map(); // ID -> <li>, reused across paints

function paintList() {
  const list = $('list');
  const keep = new Set();
  let prev = null;
  for (const m of state.messages) {
    keep.add(m.ID);
    let li = rows.get(m.ID);
    if (!li) {
      li = row(m);
      rows.set(m.ID, li);
    }
    li.classList.toggle('unread', !m.Read);
    li.classList.toggle('selected', m.ID === state.selected);
    li.classList.toggle('open', m.ID === state.open);
    li.setAttribute('aria-selected', m.ID === state.selected ? 'true' : 'false');
    const want = prev ? prev.nextSibling : list.firstChild;
    if (want !== li) list.insertBefore(li, want);
    prev = li;
  }
  for (const [id, li] of rows) {
    if (!keep.has(id)) {
      li.remove();
      rows.delete(id);
    }
  }
}

function row(m) {
  const to = m.To && m.To.length ? addrShort(m.To[0]) + (m.To.length > 1 ? ` +${m.To.length - 1}` : '') : (m.Envelope && m.Envelope.To || []).join(', ');
  const port = m.Delivery && m.Delivery.Port;
  return h('li', { class: 'row', dataset: { id: m.ID }, role: 'option', onclick: () => { select(m.ID); openMessage(m.ID); } },
    h('div', { class: 'row-line' },
      h('span', { class: 'from', text: addrShort(m.From) || (m.Envelope && m.Envelope.From) || '(no sender)', title: addr(m.From) }),
      m.Attachments > 0 ? h('span', { class: 'clip', title: plural(m.Attachments, 'attachment'), 'aria-label': 'has attachments' }) : null,
      h('time', { class: 'time', text: when(m.Created), title: fullDate(m.Created), datetime: m.Created })),
    h('div', { class: 'subject-line', text: m.Subject || '(no subject)' }),
    h('div', { class: 'row-line sub' },
      h('span', { class: 'to', text: to ? `to ${to}` : '' }),
      port ? h('span', { class: 'port', text: `:${port}`, title: `received on port ${port}` }) : null,
      h('span', { class: 'size', text: size(m.Size) })));
}

function renderPorts() {
  const sel = $('port');
  const ports = [...state.ports].sort((a, b) => a - b);
  const cur = sel.value;
  sel.replaceChildren(h('option', { value: '', text: 'All ports' }), ...ports.map((p) => h('option', { value: String(p), text: `Port ${p}` })));
  sel.value = cur;
}

function setLive(s) {
  state.live = !!s.live;
  const el = $('live');
  el.classList.toggle('up', state.live);
  el.classList.toggle('down', !state.live);
  clearInterval(setLive.tick);
  const text = $('live-text');
  if (s.live) {
    text.textContent = 'Live';
    el.title = 'Receiving live updates';
  } else if (s.retryAt) {
    const show = () => {
      const secs = Math.max(0, Math.ceil((s.retryAt - Date.now()) / 1000));
      text.textContent = secs > 0 ? `Offline · retry in ${secs}s` : 'Reconnecting…';
    };
    show();
    setLive.tick = setInterval(show, 1000);
    el.title = 'Live updates are down. Click to reconnect now.';
  } else {
    text.textContent = 'Connecting…';
  }
}

let toastTimer = 0;
function toast(msg) {
  const t = $('toast');
  t.textContent = msg;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 5000);
}

// ---------- message view ----------

const TABS = [
  ['html', 'HTML'], ['text', 'Text'], ['source', 'Source'],
  ['headers', 'Headers'], ['attachments', 'Attachments'], ['delivery', 'Delivery'],
];

let openSeq = 0;

async function openMessage(id) {
  const seq = ++openSeq;
  state.open = id;
  state.remote = false;
  $('layout').classList.add('show-message');
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

function closeMessage(note) {
  openSeq++;
  state.open = null;
  state.openMsg = null;
  $('message').hidden = true;
  delete $('message').dataset.id;
  $('tab-body').replaceChildren();
  $('placeholder').hidden = false;
  $('layout').classList.remove('show-message');
  if (note) toast(note);
  render();
}

function renderMessage() {
  const m = state.openMsg;
  $('placeholder').hidden = true;
  $('message').hidden = false;
  $('message').dataset.id = m.ID;
  $('m-subject').textContent = m.Subject || '(no subject)';
  $('download-raw').setAttribute('href', `${api.rawURL(m.ID)}?dl=1`);
  $('download-raw').setAttribute('download', `${m.ID}.eml`);
  const meta = [
    ['From', addr(m.From)],
    ['To', addrList(m.To)],
    ['Cc', addrList(m.Cc)],
    ['Bcc', addrList(m.Bcc)],
    ['Reply-To', addrList(m.ReplyTo)],
    ['Date', fullDate(m.Date)],
    ['Size', size(m.Size)],
  ].filter(([, v]) => v);
  $('m-meta').replaceChildren(...meta.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })]));
  renderReadButton();
  const n = (m.Attachments || []).length + (m.Inline || []).length;
  $('tabs').replaceChildren(...TABS.map(([key, label]) => {
    const disabled = (key === 'html' && !m.HTML) || (key === 'attachments' && n === 0);
    return h('button', {
      type: 'button', class: 'tab', role: 'tab', dataset: { tab: key }, disabled,
      onclick: () => { state.tab = key; renderTab(); },
    }, label, key === 'attachments' && n ? h('span', { class: 'badge', text: String(n) }) : null);
  }));
  renderTab();
}

function renderReadButton() {
  if (state.openMsg) $('toggle-read').textContent = state.openMsg.Read ? 'Mark unread' : 'Mark read';
}

function renderTab() {
  const m = state.openMsg;
  if (!m) return;
  let tab = state.tab;
  if (tab === 'html' && !m.HTML) tab = 'text';
  if (tab === 'attachments' && !(m.Attachments || []).length && !(m.Inline || []).length) tab = m.HTML ? 'html' : 'text';
  for (const b of $('tabs').children) b.setAttribute('aria-selected', b.dataset.tab === tab ? 'true' : 'false');
  const body = $('tab-body');
  body.className = `tab-body tab-${tab}`;
  switch (tab) {
    case 'html': body.replaceChildren(...htmlTab(m)); break;
    case 'text': body.replaceChildren(h('pre', { class: 'text', text: m.Text || '(this message has no text body)' })); break;
    case 'source': lazy(body, () => api.raw(m.ID), (raw) => [h('pre', { class: 'source', text: raw })]); break;
    case 'headers': lazy(body, () => api.headers(m.ID), headersTab); break;
    case 'attachments': body.replaceChildren(...attachmentsTab(m)); break;
    case 'delivery': body.replaceChildren(deliveryTab(m)); break;
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

function htmlTab(m) {
  // No allow-scripts and no allow-same-origin: the message can neither run
  // code nor reach this page. /view/ sends its own CSP sandbox as well.
  const frame = h('iframe', {
    class: 'html-frame',
    title: 'Message HTML',
    sandbox: 'allow-popups allow-popups-to-escape-sandbox',
    referrerpolicy: 'no-referrer',
    src: api.viewURL(m.ID, state.remote),
  });
  const bar = h('div', { class: 'html-bar' },
    h('span', { class: 'muted', text: state.remote ? 'Remote images are shown.' : 'Remote images are blocked.' }),
    h('button', {
      type: 'button', class: 'btn small',
      text: state.remote ? 'Block remote images' : 'Show remote images',
      onclick: () => { state.remote = !state.remote; renderTab(); },
    }));
  return [bar, frame];
}

function headersTab(hdrs) {
  const rows = [];
  for (const key of Object.keys(hdrs).sort()) {
    for (const v of hdrs[key] || []) rows.push(h('tr', {}, h('th', { text: key }), h('td', { text: v })));
  }
  return [h('table', { class: 'headers' }, h('tbody', {}, rows))];
}

function attachmentsTab(m) {
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

function deliveryTab(m) {
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
    ['Session', d.SessionID],
    ['Received', fullDate(d.Received)],
  ].filter(([, v]) => v !== undefined && v !== '');
  return h('dl', { class: 'delivery' }, rows.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })]));
}

// ---------- actions ----------

function select(id, scroll) {
  state.selected = id;
  render();
  if (scroll) {
    requestAnimationFrame(() => {
      const li = rows.get(id);
      if (li) li.scrollIntoView({ block: 'nearest' });
    });
  }
}

function move(step) {
  if (!state.messages.length) return;
  let i = indexOf(state.selected ?? state.open);
  i = i < 0 ? 0 : Math.max(0, Math.min(state.messages.length - 1, i + step));
  select(state.messages[i].ID, true);
}

async function deleteIDs(ids) {
  if (!ids.length) return;
  removeLocal(ids, null);
  render();
  try {
    await api.remove(ids);
  } catch (err) {
    toast(`Delete failed: ${err.message}`);
    load();
  }
}

function page(delta) {
  const start = Math.max(0, state.start + delta * PAGE);
  if (start === state.start || (delta > 0 && start >= state.matched)) return;
  state.start = start;
  $('list').scrollTop = 0;
  load();
}

function setQuery() {
  state.query = $('search').value;
  state.port = $('port').value;
  state.start = 0;
  load();
}

let armTimer = 0;
function deleteAll() {
  const b = $('delete-all');
  if (!b.classList.contains('armed')) {
    b.classList.add('armed');
    b.textContent = 'Confirm delete all';
    armTimer = setTimeout(disarm, 4000);
    return;
  }
  disarm();
  api.removeAll().catch((err) => toast(`Delete failed: ${err.message}`));
}

function disarm() {
  clearTimeout(armTimer);
  const b = $('delete-all');
  b.classList.remove('armed');
  b.textContent = 'Delete all';
}

function onKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA')) {
    if (e.key === 'Escape') t.blur();
    return;
  }
  switch (e.key) {
    case 'j': case 'ArrowDown': move(1); break;
    case 'k': case 'ArrowUp': move(-1); break;
    case 'Enter':
      if (t && (t.tagName === 'BUTTON' || t.tagName === 'A')) return;
      if (state.selected) openMessage(state.selected);
      break;
    case 'Delete': {
      const id = state.selected || state.open;
      if (id) deleteIDs([id]);
      break;
    }
    case '/': $('search').focus(); break;
    case 'Escape': if (state.open) closeMessage(); break;
    default: return;
  }
  e.preventDefault();
}

// ---------- start ----------

function init() {
  let typing = 0;
  $('search').addEventListener('input', () => { clearTimeout(typing); typing = setTimeout(setQuery, 250); });
  $('search-form').addEventListener('submit', (e) => { e.preventDefault(); clearTimeout(typing); setQuery(); });
  $('port').addEventListener('change', setQuery);
  $('prev').addEventListener('click', () => page(-1));
  $('next').addEventListener('click', () => page(1));
  $('mark-all-read').addEventListener('click', () => api.setRead(null, true).catch((err) => toast(`Failed: ${err.message}`)));
  $('delete-all').addEventListener('click', deleteAll);
  $('delete-one').addEventListener('click', () => state.open && deleteIDs([state.open]));
  $('toggle-read').addEventListener('click', () => {
    const m = state.openMsg;
    if (m) api.setRead([m.ID], !m.Read).catch((err) => toast(`Failed: ${err.message}`));
  });
  $('back').addEventListener('click', () => closeMessage());
  document.addEventListener('keydown', onKey);

  const stream = new Stream({ onFrame, onOpen: load, onState: setLive });
  $('live').addEventListener('click', () => stream.now());
  load();
  stream.connect();
}

init();
