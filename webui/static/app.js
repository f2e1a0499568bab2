// The inbox. State lives in `state`; rendering is batched per animation
// frame, so a burst of thousands of live events costs one repaint.

import { h, $, addr, addrShort, addrList, size, when, whenExact, duration, fullDate, plural } from './dom.js';
import * as api from './api.js';
import { Stream } from './stream.js';
import { htmlCheckTab, linkCheckTab } from './checks.js';

const PAGE = 100;
const SESSIONS = 200; // transcripts listed; the API keeps more

const state = {
  view: 'messages', // or 'sessions'
  query: '',        // what the user typed in the Messages view
  port: '',         // listener port filter, '' for all (both views)
  tag: '',          // tag filter, '' for all (Messages view): tag:"..." in the query
  tags: [],         // every tag in the store, sorted (GET /api/v1/tags)
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
  msgStale: false,  // the port changed in the Sessions view: reload on return

  sessions: [],     // transcript summaries (no lines), newest first
  sessTotal: 0,     // transcripts matching the filter in the log
  sessLoaded: false,
  sessClient: '',   // client address prefix typed in the Sessions view
  errorsOnly: false,
  sessSelected: null,
  sessOpen: null,   // ID of the transcript shown
  sessOpenT: null,  // it, with its lines
};

const fullQuery = () => [state.query.trim(), state.port ? `port:${state.port}` : '', state.tag ? tagTerm(state.tag) : ''].filter(Boolean).join(' ');
// tagTerm searches for one tag: quoted, since names may hold spaces (a
// name never holds a quote: the server keeps letters, digits, space - _ . @).
const tagTerm = (name) => `tag:"${name}"`;
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
    syncOpen();
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

// syncOpen takes the open message's read state and tags from the listing,
// after a reload that a "prune" frame (no details) asked for.
function syncOpen() {
  const m = state.openMsg && state.messages.find((x) => x.ID === state.openMsg.ID);
  if (!m) return;
  state.openMsg.Read = m.Read;
  renderReadButton();
  if (!sameTags(state.openMsg.Tags, m.Tags)) {
    state.openMsg.Tags = m.Tags || [];
    renderMessageTags();
  }
}

// ---------- tags ----------

let tagsTimer = 0;
let tagsSeq = 0;

// loadTags fetches the store's tags for the filter, at most every 300ms.
function loadTagsSoon() {
  if (tagsTimer) return;
  tagsTimer = setTimeout(() => { tagsTimer = 0; loadTags(); }, 300);
}

async function loadTags() {
  const seq = ++tagsSeq;
  try {
    const tags = await api.tags();
    if (seq !== tagsSeq) return;
    state.tags = Array.isArray(tags) ? tags : [];
    renderTagFilter();
  } catch {
    // The filter keeps what it had; the next change or reconnect retries.
  }
}

const sameTags = (a, b) => (a || []).join('\n') === (b || []).join('\n');

// renderTagFilter lists the store's tags, and the chosen one even when no
// message carries it any more, so the choice stays visible.
function renderTagFilter() {
  const sel = $('tag');
  const names = [...state.tags];
  if (state.tag && !names.some((t) => t.toLowerCase() === state.tag.toLowerCase())) names.push(state.tag);
  sel.replaceChildren(h('option', { value: '', text: 'All tags' }), ...names.map((t) => h('option', { value: t, text: t })));
  sel.value = state.tag;
  sel.hidden = state.view !== 'messages' || names.length === 0;
}

// filterTag shows the messages with one tag (a click on a tag).
function filterTag(name) {
  if (state.view !== 'messages') setView('messages');
  state.tag = name;
  renderTagFilter();
  state.start = 0;
  disarm();
  load();
}

// tagChips shows tags as buttons that filter by them. Names reach the page
// as text only.
function tagChips(tags) {
  return (tags || []).map((t) => h('button', {
    type: 'button', class: 'tag', text: t, title: `Show messages tagged “${t}”`, dataset: { tag: t },
    onclick: (e) => { e.stopPropagation(); filterTag(t); },
  }));
}

// ---------- live events ----------

function onFrame(f) {
  if (f.Type === 'session') {
    applySession(f.Data); // sessions have their own listing and queue
    return;
  }
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
      if ((d.Tags || []).some((t) => !state.tags.includes(t))) loadTagsSoon();
      break;
    case 'delete': // Mailpit's: one frame per message
      if (d.ID) removeLocal([d.ID], 'deleted');
      loadTagsSoon(); // a tag may have gone with it
      break;
    case 'prune':
      // Mailpit's "reload": null, or from mailsink the IDs that went and why.
      if (d.IDs) removeLocal(d.IDs, d.Reason || 'deleted');
      else reloadSoon();
      loadTagsSoon();
      break;
    case 'truncate':
      state.messages = [];
      state.matched = 0;
      state.start = 0;
      state.tags = [];
      renderTagFilter();
      if (state.open) closeMessage('All messages were deleted.');
      break;
    case 'update': { // Mailpit's: one message, its read state or its tags
      const m = state.messages.find((x) => x.ID === d.ID);
      const open = state.openMsg && state.open === d.ID ? state.openMsg : null;
      if ('Read' in d) {
        if (m && m.Read !== !!d.Read) {
          m.Read = !!d.Read;
          state.unread = Math.max(0, state.unread + (m.Read ? -1 : 1));
        }
        if (open) {
          open.Read = !!d.Read;
          renderReadButton();
        }
        if (fullQuery().includes('is:')) reloadSoon();
      }
      if (Array.isArray(d.Tags)) {
        if (m) m.Tags = d.Tags;
        if (open && !sameTags(open.Tags, d.Tags)) {
          open.Tags = d.Tags;
          renderMessageTags();
        }
        if (/(^|\s)[-!]?(tag:|is:tagged)/i.test(fullQuery())) reloadSoon();
        loadTagsSoon();
      }
      break;
    }
    case 'listeners':
      paintOutage(d || []);
      return;
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

// notePort adds a message's port, or a port number, to the port filter.
function notePort(s) {
  const p = typeof s === 'number' ? s : s && s.Delivery && s.Delivery.Port;
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
  if (state.view === 'sessions') paintSessions();
  else paintList();
  paintBulk();
  const q = fullQuery();
  $('counts').textContent = q
    ? `${plural(state.matched, 'match', 'matches')}`
    : `${state.unread.toLocaleString()} unread`; // the pager shows the total
  document.title = state.unread > 0 ? `(${state.unread.toLocaleString()}) mailsink` : 'mailsink';
  paintFavicon(state.unread);
  const n = state.messages.length;
  $('range').textContent = n ? `${(state.start + 1).toLocaleString()}–${(state.start + n).toLocaleString()} of ${state.matched.toLocaleString()}` : '';
  $('prev').disabled = state.start === 0;
  $('next').disabled = state.start + n >= state.matched;
  const empty = $('empty');
  empty.hidden = n > 0 || !state.loaded;
  empty.textContent = q ? 'No messages match this search.' : 'No messages yet. Send mail to any listener and it appears here.';
}

const rows = new Map(); // ID -> <li>, reused across paints (rebuilt when its tags change)

function paintList() {
  const list = $('list');
  const keep = new Set();
  let prev = null;
  for (const m of state.messages) {
    keep.add(m.ID);
    let li = rows.get(m.ID);
    if (!li || li.dataset.tags !== (m.Tags || []).join('\n')) {
      const old = li;
      li = row(m);
      li.dataset.tags = (m.Tags || []).join('\n');
      if (old) old.replaceWith(li);
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
    m.Snippet ? h('div', { class: 'snippet', text: m.Snippet }) : null,
    (m.Tags || []).length ? h('div', { class: 'tags', 'aria-label': 'tags' }, tagChips(m.Tags)) : null,
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
// paintOutage says which SMTP ports are paused (POST
// /api/v1/listeners/{port}/pause), so nobody wonders why mail stopped.
const pauseWhat = { refuse: 'refuses connections', 421: 'answers 421 and hangs up', hang: 'accepts connections and never greets' };
function paintOutage(listeners) {
  const paused = listeners.filter((l) => l.Paused);
  const bar = $('outage');
  bar.hidden = !paused.length;
  bar.replaceChildren(...paused.map((l) => h('div', { class: 'outage-row', dataset: { port: String(l.Port) } },
    h('strong', { text: `Port ${l.Port} is paused` }),
    h('span', { text: ` (simulated outage: it ${pauseWhat[l.PauseMode] || l.PauseMode}) since ${whenExact(l.PausedSince)}. ` }),
    h('button', {
      type: 'button', class: 'link', text: 'Resume',
      onclick: async () => {
        try { await api.resumeListener(l.Port); } catch (err) { toast(`Could not resume port ${l.Port}: ${err.message}`); }
      },
    }))));
}

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
  ['html-check', 'HTML check'], ['link-check', 'Link check'],
];

let openSeq = 0;

async function openMessage(id) {
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

function closeMessage(note) {
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

// showPane shows, on the right (or alone on a narrow screen), what the
// current view has open: a message, a transcript, or the placeholder.
function showPane() {
  const msgs = state.view === 'messages';
  const showMsg = msgs && !!state.openMsg;
  const showSess = !msgs && !!state.sessOpenT;
  $('message').hidden = !showMsg;
  $('session').hidden = !showSess;
  $('placeholder').hidden = showMsg || showSess;
  $('placeholder-text').textContent = msgs ? 'Select a message.' : 'Select a session to see its SMTP conversation.';
  $('delete-key').hidden = !msgs;
  $('layout').classList.toggle('show-message', msgs ? state.open !== null : state.sessOpen !== null);
}

function renderMessage() {
  const m = state.openMsg;
  showPane();
  $('message').dataset.id = m.ID;
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
function longList(list) {
  const all = list || [];
  if (all.length <= 5) return addrList(all);
  const dd = h('dd', { class: 'addr-list' }, addrList(all.slice(0, 5)) + ' ');
  const more = h('button', { type: 'button', class: 'link-btn', text: `and ${all.length - 5} more`,
    onclick: () => { dd.replaceChildren(addrList(all)); } });
  dd.append(more);
  return dd;
}

// renderMessageTags shows the open message's tags, each a filter, and an
// editor: the names, comma-separated, replace its tags (Mailpit's PUT
// /api/v1/tags); the change comes back as an "update" frame to every tab.
function renderMessageTags() {
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
        if (!state.live) load(); // no frame will come: the listing says what the server kept
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

function renderReadButton() {
  if (state.openMsg) $('toggle-read').textContent = state.openMsg.Read ? 'Mark unread' : 'Mark read';
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
    case 'html': body.replaceChildren(...htmlTab(m)); break;
    case 'text': body.replaceChildren(h('pre', { class: 'text' }, ...linked(m.Text || '(this message has no text body)'))); break;
    case 'source': lazy(body, () => api.raw(m.ID), (raw) => [h('pre', { class: 'source', text: raw })]); break;
    case 'headers': lazy(body, () => api.headers(m.ID), headersTab); break;
    case 'attachments': body.replaceChildren(...attachmentsTab(m)); break;
    case 'delivery': body.replaceChildren(deliveryTab(m)); break;
    case 'html-check': lazy(body, () => api.htmlCheck(m.ID), htmlCheckTab); break;
    case 'link-check': body.replaceChildren(...linkCheckTab((follow) => api.linkCheck(m.ID, follow))); break;
  }
}

// linked splits text into text nodes and links for its http(s) and mailto
// URLs. Only those schemes become links (never javascript: or data:), and
// they open in a new tab without the inbox as referrer or opener.
function linked(text) {
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

function headersTab(hdrs) {
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

// dkimRows shows each signature's check: pass, or why not.
function dkimRows(list) {
  if (!list) return undefined;
  if (!list.length) return 'unsigned';
  return list.map((r) => h('div', { class: `dkim dkim-${r.Result}` },
    h('strong', { text: r.Result }), h('span', { text: ` ${r.Domain || '(no domain)'}` }),
    r.Reason ? h('span', { class: 'muted', text: `: ${r.Reason}` }) : null));
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
    ['Session', d.SessionID && [
      h('button', { type: 'button', class: 'link', id: 'session-link', text: 'SMTP session', onclick: () => openSession(d.SessionID) }),
      h('span', { class: 'muted id', text: ` ${d.SessionID}` }),
    ]],
    ['Received', fullDate(d.Received)],
    ['DKIM', dkimRows(m.DKIM)],
  ].filter(([, v]) => v !== undefined && v !== '');
  return h('dl', { class: 'delivery' }, rows.flatMap(([k, v]) => [h('dt', { text: k }), Array.isArray(v) ? h('dd', {}, v) : h('dd', { text: v })]));
}

// ---------- sessions ----------

// A listed session and a live "session" frame are the same summary: the
// server's verdict (ErrorCount, LastError, Reason, Explained) and a
// LineCount, no lines. Only the open session is fetched with its lines,
// each marked Error when it is one of the errors.
const failed = (s) => s.ErrorCount > 0;
const faulted = (s) => (s.Faults || []).length > 0;

function sessionMatches(s) {
  if (state.port && String(s.Port) !== state.port) return false;
  const c = state.sessClient.trim();
  const a = s.ClientAddr || '';
  return !c || a.startsWith(c) || a.replace(/^\[/, '').startsWith(c);
}

let sessSeq = 0;
let sessPending = null; // frames received while a load is in flight

async function loadSessions() {
  const seq = ++sessSeq;
  if (!sessPending) sessPending = [];
  try {
    const res = await api.sessions(state.port, state.sessClient.trim(), SESSIONS);
    if (seq !== sessSeq) return;
    state.sessions = res.Sessions || [];
    state.sessTotal = res.Total ?? state.sessions.length;
    state.sessLoaded = true;
    state.sessions.forEach((s) => notePort(s.Port));
    const replay = sessPending;
    sessPending = null;
    for (const d of replay) applySession(d);
    render();
  } catch (err) {
    if (seq !== sessSeq) return;
    sessPending = null;
    toast(`Could not load sessions: ${err.message}`);
  }
}

// applySession merges a "session" frame: a connection started or ended.
function applySession(d) {
  if (!d || !d.ID) return;
  notePort(d.Port);
  if (sessPending) {
    sessPending.push(d);
    return;
  }
  if (state.sessOpen === d.ID && !d.Active) refreshOpenSession();
  if (!state.sessLoaded || !sessionMatches(d)) return;
  const list = state.sessions;
  const i = list.findIndex((s) => s.ID === d.ID);
  if (i >= 0) {
    if (d.Active && !list[i].Active) return; // a start frame older than the listing
    list[i] = d;
  } else {
    // Newest first by start; one older than the whole list is beyond it.
    const at = Date.parse(d.Started);
    const j = list.findIndex((s) => Date.parse(s.Started) <= at);
    if (j >= 0) list.splice(j, 0, d);
    else if (list.length >= state.sessTotal && list.length < SESSIONS) list.push(d);
    else return;
    state.sessTotal++;
    if (list.length > SESSIONS) list.length = SESSIONS;
  }
  render();
}

const shownSessions = () => (state.errorsOnly ? state.sessions.filter((s) => failed(s) || faulted(s)) : state.sessions);

const srows = new Map(); // ID -> { li, s }: a row is rebuilt when its session changes

function paintSessions() {
  const list = $('sessions');
  const shown = shownSessions();
  const keep = new Set();
  let prev = null;
  for (const s of shown) {
    keep.add(s.ID);
    let r = srows.get(s.ID);
    if (!r || r.s !== s) {
      const li = sessionRow(s);
      if (r) r.li.replaceWith(li);
      r = { li, s };
      srows.set(s.ID, r);
    }
    const li = r.li;
    li.classList.toggle('selected', s.ID === state.sessSelected);
    li.classList.toggle('open', s.ID === state.sessOpen);
    li.setAttribute('aria-selected', s.ID === state.sessSelected ? 'true' : 'false');
    const want = prev ? prev.nextSibling : list.firstChild;
    if (want !== li) list.insertBefore(li, want);
    prev = li;
  }
  for (const [id, r] of srows) {
    if (!keep.has(id)) {
      r.li.remove();
      srows.delete(id);
    }
  }
  const bad = state.sessions.filter(failed).length;
  const n = state.sessions.length;
  $('s-counts').textContent = !state.sessLoaded ? '' : [
    plural(state.sessTotal, 'session'),
    n < state.sessTotal ? `newest ${n.toLocaleString()} shown` : '',
    bad ? `${bad.toLocaleString()} with errors` : '',
  ].filter(Boolean).join(' · ');
  const empty = $('s-empty');
  empty.hidden = shown.length > 0 || !state.sessLoaded;
  empty.textContent = state.errorsOnly && n ? 'No session here had an error.'
    : state.port || state.sessClient.trim() ? 'No sessions match.'
      : 'No SMTP sessions yet. Every connection to a listener appears here, also one that delivered nothing.';
}

function sessionRow(s) {
  const bad = failed(s);
  const n = (s.MessageIDs || []).length;
  const tls = s.TLS ? [s.TLSVersion, s.TLSCipher].filter(Boolean).join(', ') : 'cleartext';
  return h('li', {
    class: `row srow${bad ? ' failed' : faulted(s) ? ' faulted' : ''}${s.Active ? ' active' : ''}`,
    dataset: { id: s.ID }, role: 'option',
    onclick: () => { selectSession(s.ID); openSession(s.ID); },
  },
  h('div', { class: 'row-line' },
    h('span', { class: 'from client', text: s.ClientAddr || '(unknown client)' }),
    s.Active ? h('span', { class: 'chip open-chip', text: 'open', title: 'The connection is still open' }) : null,
    h('time', { class: 'time', text: whenExact(s.Started), title: fullDate(s.Started), datetime: s.Started })),
  h('div', { class: 'row-line sub' },
    h('span', { class: 'port', text: `:${s.Port}`, title: `${s.Listener || 'listener'}, port ${s.Port}` }),
    h('span', { class: s.TLS ? 'chip tls' : 'chip', text: s.TLS ? 'TLS' : 'no TLS', title: tls }),
    h('span', { class: 'user', text: s.AuthUser ? `user ${s.AuthUser}` : 'no auth', title: s.AuthUser ? `authenticated as ${s.AuthUser}` : 'not authenticated' }),
    h('span', { class: n ? 'delivered' : 'delivered none', text: plural(n, 'message') })),
  bad ? h('div', { class: 'row-error', title: plural(s.ErrorCount, 'error') },
    h('span', { class: 'sr', text: 'Error: ' }), s.Reason || s.LastError)
    : faulted(s) ? h('div', { class: 'row-fault', text: `fault: ${s.Faults[s.Faults.length - 1]}` }) : null);
}

let sessOpenSeq = 0;

async function openSession(id) {
  const seq = ++sessOpenSeq;
  setView('sessions');
  navigate(`#/session/${encodeURIComponent(id)}`);
  state.sessSelected = id;
  state.sessOpen = id;
  showPane();
  render();
  try {
    const t = await api.session(id);
    if (seq !== sessOpenSeq) return;
    state.sessOpenT = t;
    renderSession();
    render();
  } catch (err) {
    if (seq !== sessOpenSeq) return;
    closeSession(err.status === 404 ? 'The transcript of this session is no longer kept.' : `Could not open the session: ${err.message}`);
  }
}

// refreshOpenSession reloads the open transcript once its connection ends,
// for the lines written since it was opened.
async function refreshOpenSession() {
  const id = state.sessOpen;
  const seq = sessOpenSeq;
  try {
    const t = await api.session(id);
    if (seq === sessOpenSeq) {
      state.sessOpenT = t;
      renderSession();
    }
  } catch {
    // Cleared meanwhile: what is shown stays, the next open says so.
  }
}

function closeSession(note) {
  sessOpenSeq++;
  if (state.view === 'sessions') navigate('#/sessions');
  state.sessOpen = null;
  state.sessOpenT = null;
  delete $('session').dataset.id;
  $('s-lines').replaceChildren();
  showPane();
  if (note) toast(note);
  render();
}

function renderSession() {
  const t = state.sessOpenT;
  showPane();
  $('session').dataset.id = t.ID;
  $('s-json').setAttribute('href', api.sessionURL(t.ID));
  $('s-title').textContent = `Session from ${t.ClientAddr || 'an unknown client'}`;

  const status = $('s-status');
  const n = (t.MessageIDs || []).length;
  const took = duration(Date.parse(t.Ended) - Date.parse(t.Started));
  if (t.ErrorCount && t.Explained) {
    const more = t.LastError !== t.Reason;
    status.className = 'status err';
    status.replaceChildren(
      h('strong', { text: 'The session failed: ' }), h('code', { text: t.Reason }),
      more ? h('span', { text: ` (${plural(t.ErrorCount, 'error')}, the last: ` }) : null,
      more ? h('code', { text: t.LastError }) : null,
      more ? h('span', { text: ')' }) : null);
  } else if (t.ErrorCount) {
    status.className = 'status err';
    status.replaceChildren(
      h('strong', { text: t.ErrorCount === 1 ? 'The session got an error: ' : `The session got ${t.ErrorCount} errors, the last: ` }),
      h('code', { text: t.LastError }));
  } else if (t.Active) {
    status.className = 'status live';
    status.textContent = 'The connection is open. The transcript so far; it reloads when the connection ends.';
  } else {
    status.className = 'status ok';
    status.textContent = `Ended without an error reply after ${took}; ${plural(n, 'message')} delivered.`;
  }

  const tls = t.TLS ? [t.TLSVersion || 'yes', t.TLSCipher].filter(Boolean).join(' · ') : 'no (cleartext)';
  const rows = [
    ['Started', fullDate(t.Started)],
    ['Duration', t.Active ? 'still open' : took],
    ['Listener', [t.Listener, t.Port ? `port ${t.Port}` : ''].filter(Boolean).join(' · ')],
    ['Client address', t.ClientAddr],
    ['HELO', t.Helo || '(none sent)'],
    ['TLS', tls],
    ['Auth user', t.AuthUser || 'none'],
    ['Messages', n ? h('dd', { class: 'links' }, t.MessageIDs.map((id) => h('button', {
      type: 'button', class: 'link', dataset: { message: id }, title: `Open message ${id}`,
      text: messageLabel(id), onclick: () => openFromSession(id),
    }))) : 'none delivered'],
    ['Faults fired', (t.Faults || []).join('\n')],
  ].filter(([, v]) => v);
  $('s-meta').replaceChildren(...rows.flatMap(([k, v]) => [h('dt', { text: k }), v instanceof Node ? v : h('dd', { text: v })]));

  const started = Date.parse(t.Started);
  const lines = t.Lines || [];
  $('s-lines').replaceChildren(...(lines.length ? lines.map((l) => {
    const at = Date.parse(l.At) - started;
    const dir = l.Dir === 'C' ? 'c' : l.Dir === 'S' ? 's' : 'note';
    return h('li', { class: `line dir-${dir}${l.Error ? ' err' : ''}` },
      h('span', { class: 'at', text: at >= 0 ? `+${(at / 1000).toFixed(3)}` : '', title: fullDate(l.At) }),
      h('span', { class: 'dir', text: l.Dir === '*' ? '*' : `${l.Dir}:` }),
      h('span', { class: 'text', text: l.Text }));
  }) : [h('li', { class: 'line muted', text: 'No lines recorded.' })]));
}

// messageLabel names a delivered message by its subject when the list has it.
function messageLabel(id) {
  const m = state.messages.find((x) => x.ID === id);
  return m ? `${m.Subject || '(no subject)'} · ${id}` : `Message ${id}`;
}

function openFromSession(id) {
  setView('messages');
  select(id, true);
  openMessage(id);
}

function selectSession(id, scroll) {
  state.sessSelected = id;
  render();
  if (scroll) {
    requestAnimationFrame(() => {
      const r = srows.get(id);
      if (r) r.li.scrollIntoView({ block: 'nearest' });
    });
  }
}

function moveSession(step) {
  const list = shownSessions();
  if (!list.length) return;
  let i = list.findIndex((s) => s.ID === (state.sessSelected ?? state.sessOpen));
  i = i < 0 ? 0 : Math.max(0, Math.min(list.length - 1, i + step));
  selectSession(list[i].ID, true);
}

function clearSessions() {
  api.clearSessions().then(() => {
    if (state.sessOpenT && !state.sessOpenT.Active) closeSession();
    loadSessions();
  }, (err) => toast(`Clear failed: ${err.message}`));
}

// ---------- views ----------

const SEARCH = {
  messages: ['Search — from: to: subject: is:unread …', 'Search messages'],
  sessions: ['Filter by client address …', 'Filter sessions by client address'],
};

function setView(v) {
  if (state.view === v) return;
  state.view = v;
  navigate(v === 'sessions' ? (state.sessOpen ? `#/session/${encodeURIComponent(state.sessOpen)}` : '#/sessions')
    : (state.open ? `#/message/${encodeURIComponent(state.open)}` : '#/'));
  for (const b of document.querySelectorAll('.view-tab')) b.setAttribute('aria-selected', b.dataset.view === v ? 'true' : 'false');
  $('view-messages').hidden = v !== 'messages';
  $('view-sessions').hidden = v !== 'sessions';
  renderTagFilter();
  const search = $('search');
  search.value = v === 'messages' ? state.query : state.sessClient;
  search.placeholder = SEARCH[v][0];
  search.setAttribute('aria-label', SEARCH[v][1]);
  if (v === 'sessions' && !state.sessLoaded) loadSessions();
  if (v === 'messages' && state.msgStale) {
    state.msgStale = false;
    load();
  }
  showPane();
  render();
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

// setQuery applies the search box and the port filter to the view shown;
// the other view catches up with the port when it is shown again.
function setQuery() {
  disarm(); // a confirmation armed for one search must not delete another's matches
  const portChanged = $('port').value !== state.port;
  state.port = $('port').value;
  if (state.view === 'sessions') {
    state.sessClient = $('search').value;
    loadSessions();
    if (portChanged) {
      state.start = 0;
      state.msgStale = true;
    }
    return;
  }
  state.query = $('search').value;
  state.tag = $('tag').value;
  state.start = 0;
  load();
  if (portChanged) state.sessLoaded = false;
}

// Bulk actions act on what the list shows: with a search (or port filter)
// only its matches, through the search routes; with none, everything. The
// button says which, and how many, before it is confirmed.
let armTimer = 0;
function bulkLabel() {
  const q = fullQuery();
  return q ? `${state.matched} match${state.matched === 1 ? '' : 'es'}` : `all ${state.total}`;
}

function deleteAll() {
  const b = $('delete-all');
  if (!b.classList.contains('armed')) {
    b.classList.add('armed');
    b.textContent = `Confirm: delete ${bulkLabel()}`;
    armTimer = setTimeout(disarm, 4000);
    return;
  }
  disarm();
  const q = fullQuery();
  (q ? api.removeMatching(q) : api.removeAll()).catch((err) => toast(`Delete failed: ${err.message}`));
}

function markAllRead() {
  const q = fullQuery();
  (q ? api.setReadMatching(q, true) : api.setRead(null, true)).catch((err) => toast(`Failed: ${err.message}`));
}

function disarm() {
  clearTimeout(armTimer);
  const b = $('delete-all');
  b.classList.remove('armed');
  paintBulk();
}

// paintBulk names the bulk buttons after what they would act on.
function paintBulk() {
  const filtered = Boolean(fullQuery());
  const del = $('delete-all');
  if (!del.classList.contains('armed')) del.textContent = filtered ? 'Delete matches' : 'Delete all';
  $('mark-all-read').textContent = filtered ? 'Mark matches read' : 'Mark all read';
}

function onKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA')) {
    if (e.key === 'Escape') t.blur();
    return;
  }
  if (state.view === 'sessions') {
    switch (e.key) {
      case 'j': case 'ArrowDown': moveSession(1); break;
      case 'k': case 'ArrowUp': moveSession(-1); break;
      case 'Enter':
        if (t && (t.tagName === 'BUTTON' || t.tagName === 'A')) return;
        if (state.sessSelected) openSession(state.sessSelected);
        break;
      case '/': $('search').focus(); break;
      case 'Escape': if (state.sessOpen) closeSession(); break;
      default: return;
    }
    e.preventDefault();
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

// ---------- attention ----------

// paintFavicon puts the unread count on the tab's icon: the plain icon with
// a badge, drawn as SVG (no canvas, nothing fetched).
let faviconShown = -1;
function paintFavicon(unread) {
  const n = Math.min(unread, 99);
  if (n === faviconShown) return;
  faviconShown = n;
  const link = document.querySelector('link[rel="icon"]');
  if (!link) return;
  if (n === 0) {
    link.setAttribute('href', 'favicon.svg');
    return;
  }
  const label = unread > 99 ? '99+' : String(n);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect x="2" y="7" width="28" height="20" rx="3" fill="#2563eb"/><path d="M3 9l13 9 13-9" fill="none" stroke="#fff" stroke-width="2"/><circle cx="24" cy="9" r="8" fill="#dc2626"/><text x="24" y="13" font-size="${label.length > 2 ? 8 : 11}" font-family="sans-serif" font-weight="700" fill="#fff" text-anchor="middle">${label}</text></svg>`;
  link.setAttribute('href', `data:image/svg+xml,${encodeURIComponent(svg)}`);
}

// ---------- addresses ----------
// Every message and session has a URL: #/message/ID, #/session/ID,
// #/sessions (and #/ for the inbox). Opening something pushes its address,
// so Back and Forward move between what was opened, and a reload or a
// shared link opens the same thing.

let routing = false; // following the address: it is already where it should be

function navigate(hash) {
  if (routing) return;
  if (location.hash !== hash && !(hash === '#/' && location.hash === '')) history.pushState(null, '', hash);
}

function route() {
  routing = true;
  try {
    follow();
  } finally {
    routing = false;
  }
}

function follow() {
  const [, kind, id] = /^#\/(message|session|sessions)?\/?(.*)$/.exec(location.hash) || [];
  const want = id ? decodeURIComponent(id) : '';
  switch (kind) {
    case 'message':
      setView('messages');
      if (want && state.open !== want) openMessage(want);
      break;
    case 'session':
      if (want && state.sessOpen !== want) openSession(want);
      else setView('sessions');
      break;
    case 'sessions':
      setView('sessions');
      if (state.sessOpen) closeSession();
      break;
    default:
      setView('messages');
      if (state.open) closeMessage();
  }
}

// ---------- start ----------

function init() {
  let typing = 0;
  $('search').addEventListener('input', () => { clearTimeout(typing); typing = setTimeout(setQuery, 250); });
  $('search-form').addEventListener('submit', (e) => { e.preventDefault(); clearTimeout(typing); setQuery(); });
  $('port').addEventListener('change', setQuery);
  $('tag').addEventListener('change', setQuery);
  $('prev').addEventListener('click', () => page(-1));
  $('next').addEventListener('click', () => page(1));
  $('mark-all-read').addEventListener('click', markAllRead);
  $('delete-all').addEventListener('click', deleteAll);
  $('delete-one').addEventListener('click', () => state.open && deleteIDs([state.open]));
  $('toggle-read').addEventListener('click', () => {
    const m = state.openMsg;
    if (m) api.setRead([m.ID], !m.Read).catch((err) => toast(`Failed: ${err.message}`));
  });
  $('back').addEventListener('click', () => closeMessage());
  $('s-back').addEventListener('click', () => closeSession());
  for (const b of document.querySelectorAll('.view-tab')) b.addEventListener('click', () => setView(b.dataset.view));
  $('errors-only').addEventListener('change', (e) => { state.errorsOnly = e.target.checked; render(); });
  $('clear-sessions').addEventListener('click', clearSessions);
  document.addEventListener('keydown', onKey);

  // Every (re)connect reloads what is shown; the hidden view reloads when
  // it is shown again, since frames missed while down are not replayed.
  const onOpen = () => {
    load();
    loadTags();
    if (state.view === 'sessions') loadSessions();
    else state.sessLoaded = false;
  };
  const stream = new Stream({ onFrame, onOpen, onState: setLive });
  $('live').addEventListener('click', () => stream.now());
  load();
  stream.connect();
  window.addEventListener('popstate', route);
  route();
}

init();
