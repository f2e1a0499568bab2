// The Messages view's list: loading a page of summaries, merging live
// frames into it, the tag filter, paging and the bulk actions. What it
// shows is state.messages; the open message's view is message.js.

import { h, $, addr, addrShort, size, when, fullDate, plural, toast } from './dom.js';
import * as api from './api.js';
import { state, PAGE, fullQuery, indexOf, render } from './state.js';
import { List } from './list.js';
import { notePort } from './topbar.js';
import { openMessage, closeMessage, renderReadButton, renderMessageTags, tagChips } from './message.js';

const sameTags = (a, b) => (a || []).join('\n') === (b || []).join('\n');

// list is the message rows; a row is rebuilt when its tags change.
export const list = new List($('list'), {
  items: () => state.messages,
  open: () => state.open,
  build: row,
  version: (m) => (m.Tags || []).join('\n'),
  update: (li, m) => li.classList.toggle('unread', !m.Read),
});

// ---------- loading ----------

let loadSeq = 0;
let pending = null;   // frames received while a load is in flight
let reloadTimer = 0;

export async function load() {
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

// loadTagsSoon fetches the store's tags for the filter, at most every 300ms.
function loadTagsSoon() {
  if (tagsTimer) return;
  tagsTimer = setTimeout(() => { tagsTimer = 0; loadTags(); }, 300);
}

export async function loadTags() {
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

// renderTagFilter lists the store's tags, and the chosen one even when no
// message carries it any more, so the choice stays visible.
export function renderTagFilter() {
  const sel = $('tag');
  const names = [...state.tags];
  if (state.tag && !names.some((t) => t.toLowerCase() === state.tag.toLowerCase())) names.push(state.tag);
  sel.replaceChildren(h('option', { value: '', text: 'All tags' }), ...names.map((t) => h('option', { value: t, text: t })));
  sel.value = state.tag;
  sel.hidden = state.view !== 'messages' || names.length === 0;
}

// filterTag shows the messages with one tag (a click on a tag).
export function filterTag(name) {
  state.tag = name;
  renderTagFilter();
  state.start = 0;
  disarm();
  load();
}

// ---------- live events ----------

// onFrame merges a frame about messages, or keeps it for after the load
// in flight.
export function onFrame(f) {
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
  const selIdx = indexOf(list.selected);
  let unread = 0;
  state.messages = state.messages.filter((m) => {
    if (!gone.has(m.ID)) return true;
    if (!m.Read) unread++;
    return false;
  });
  const removed = before - state.messages.length;
  state.unread = Math.max(0, state.unread - unread);
  if (!fullQuery()) state.matched = Math.max(0, state.matched - removed);
  if (gone.has(list.selected)) {
    const next = state.messages[Math.min(selIdx, state.messages.length - 1)];
    list.selected = next ? next.ID : null;
  }
  if (gone.has(state.open)) closeMessage(verb && `This message was ${verb}.`);
  if (removed && state.messages.length < PAGE && state.matched > state.start + state.messages.length) reloadSoon();
}

// ---------- painting ----------

// paint says what the list holds: counts, the pager, the empty note and
// what the bulk buttons act on. The rows are list.paint().
export function paint() {
  paintBulk();
  const q = fullQuery();
  $('counts').textContent = q
    ? `${plural(state.matched, 'match', 'matches')}`
    : `${state.unread.toLocaleString()} unread`; // the pager shows the total
  const n = state.messages.length;
  $('range').textContent = n ? `${(state.start + 1).toLocaleString()}–${(state.start + n).toLocaleString()} of ${state.matched.toLocaleString()}` : '';
  $('prev').disabled = state.start === 0;
  $('next').disabled = state.start + n >= state.matched;
  const empty = $('empty');
  empty.hidden = n > 0 || !state.loaded;
  empty.textContent = q ? 'No messages match this search.' : 'No messages yet. Send mail to any listener and it appears here.';
}

function row(m) {
  const to = m.To && m.To.length ? addrShort(m.To[0]) + (m.To.length > 1 ? ` +${m.To.length - 1}` : '') : (m.Envelope && m.Envelope.To || []).join(', ');
  const port = m.Delivery && m.Delivery.Port;
  return h('li', { class: 'row', dataset: { id: m.ID }, role: 'option', onclick: () => { list.select(m.ID); openMessage(m.ID); } },
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

// ---------- actions ----------

export async function deleteIDs(ids) {
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

export function page(delta) {
  const start = Math.max(0, state.start + delta * PAGE);
  if (start === state.start || (delta > 0 && start >= state.matched)) return;
  state.start = start;
  $('list').scrollTop = 0;
  load();
}

// Bulk actions act on what the list shows: with a search (or port filter)
// only its matches, through the search routes; with none, everything. The
// button says which, and how many, before it is confirmed.
let armTimer = 0;
function bulkLabel() {
  const q = fullQuery();
  return q ? `${state.matched} match${state.matched === 1 ? '' : 'es'}` : `all ${state.total}`;
}

export function deleteAll() {
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

export function markAllRead() {
  const q = fullQuery();
  (q ? api.setReadMatching(q, true) : api.setRead(null, true)).catch((err) => toast(`Failed: ${err.message}`));
}

// disarm takes back an armed Delete: a confirmation armed for one search
// must not delete another's matches.
export function disarm() {
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
