// The inbox's entry: it wires the views (inbox.js and message.js for
// messages, sessions.js for SMTP sessions) to the page, the keyboard, the
// live stream and the address bar. The views share state.js; rendering is
// batched per animation frame, so a burst of live events costs one repaint.

import { $ } from './dom.js';
import { Stream } from './stream.js';
import { state, render, onPaint, showPane } from './state.js';
import { navigate, go, startRouter } from './router.js';
import { setLive, paintOutage } from './topbar.js';
import { paintUnread, initNotify, noteNew } from './attention.js';
import * as inbox from './inbox.js';
import * as sessions from './sessions.js';
import { openMessage, closeMessage, toggleRead, printMessage, useList } from './message.js';

onPaint(() => {
  if (state.view === 'sessions') sessions.paint();
  else inbox.list.paint();
  inbox.paint();
  paintUnread(state.unread);
});

useList({ filterTag: inbox.filterTag, reload: inbox.load });

function onFrame(f) {
  switch (f.Type) {
    case 'session': sessions.applySession(f.Data); break; // sessions have their own listing and queue
    case 'listeners': paintOutage(f.Data || []); break;
    case 'new':
      noteNew(f.Data);
      inbox.onFrame(f);
      break;
    default: inbox.onFrame(f);
  }
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
  inbox.renderTagFilter();
  const search = $('search');
  search.value = v === 'messages' ? state.query : state.sessClient;
  search.placeholder = SEARCH[v][0];
  search.setAttribute('aria-label', SEARCH[v][1]);
  if (v === 'sessions' && !state.sessLoaded) sessions.loadSessions();
  if (v === 'messages' && state.msgStale) {
    state.msgStale = false;
    inbox.load();
  }
  showPane();
  render();
}

// setQuery applies the search box and the port filter to the view shown;
// the other view catches up with the port when it is shown again.
function setQuery() {
  inbox.disarm(); // a confirmation armed for one search must not delete another's matches
  const portChanged = $('port').value !== state.port;
  state.port = $('port').value;
  if (state.view === 'sessions') {
    state.sessClient = $('search').value;
    sessions.loadSessions();
    if (portChanged) {
      state.start = 0;
      state.msgStale = true;
    }
    return;
  }
  state.query = $('search').value;
  state.tag = $('tag').value;
  state.start = 0;
  inbox.load();
  if (portChanged) state.sessLoaded = false;
}

// ---------- keyboard ----------

const VIEWS = {
  messages: { list: inbox.list, open: openMessage, close: closeMessage, isOpen: () => state.open },
  sessions: { list: sessions.list, open: sessions.openSession, close: sessions.closeSession, isOpen: () => state.sessOpen },
};

function onKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA')) {
    if (e.key === 'Escape') t.blur();
    return;
  }
  const v = VIEWS[state.view];
  switch (e.key) {
    case 'j': case 'ArrowDown': v.list.move(1); break;
    case 'k': case 'ArrowUp': v.list.move(-1); break;
    case 'Enter':
      if (t && (t.tagName === 'BUTTON' || t.tagName === 'A')) return;
      if (v.list.selected) v.open(v.list.selected);
      break;
    case 'Delete': {
      if (state.view !== 'messages') return;
      const id = inbox.list.selected || state.open;
      if (id) inbox.deleteIDs([id]);
      break;
    }
    case '/': $('search').focus(); break;
    case 'Escape': if (v.isOpen()) v.close(); break;
    default: return;
  }
  e.preventDefault();
}

// ---------- addresses ----------

const routes = {
  message(id) {
    setView('messages');
    if (id && state.open !== id) {
      inbox.list.select(id, true);
      openMessage(id);
    }
  },
  session(id) {
    setView('sessions');
    if (id && state.sessOpen !== id) sessions.openSession(id);
  },
  sessions() {
    setView('sessions');
    if (state.sessOpen) sessions.closeSession();
  },
  inbox() {
    setView('messages');
    if (state.open) closeMessage();
  },
};

// ---------- start ----------

function init() {
  let typing = 0;
  $('search').addEventListener('input', () => { clearTimeout(typing); typing = setTimeout(setQuery, 250); });
  $('search-form').addEventListener('submit', (e) => { e.preventDefault(); clearTimeout(typing); setQuery(); });
  $('port').addEventListener('change', setQuery);
  $('tag').addEventListener('change', setQuery);
  $('prev').addEventListener('click', () => inbox.page(-1));
  $('next').addEventListener('click', () => inbox.page(1));
  $('mark-all-read').addEventListener('click', inbox.markAllRead);
  $('delete-all').addEventListener('click', inbox.deleteAll);
  $('delete-one').addEventListener('click', () => state.open && inbox.deleteIDs([state.open]));
  $('toggle-read').addEventListener('click', toggleRead);
  $('print').addEventListener('click', printMessage);
  $('back').addEventListener('click', () => closeMessage());
  $('s-back').addEventListener('click', () => sessions.closeSession());
  for (const b of document.querySelectorAll('.view-tab')) b.addEventListener('click', () => setView(b.dataset.view));
  $('errors-only').addEventListener('change', (e) => { state.errorsOnly = e.target.checked; render(); });
  $('clear-sessions').addEventListener('click', sessions.clearSessions);
  document.addEventListener('keydown', onKey);
  initNotify((id) => go(`#/message/${encodeURIComponent(id)}`));

  // Every (re)connect reloads what is shown; the hidden view reloads when
  // it is shown again, since frames missed while down are not replayed.
  const onOpen = () => {
    inbox.load();
    inbox.loadTags();
    if (state.view === 'sessions') sessions.loadSessions();
    else state.sessLoaded = false;
  };
  const stream = new Stream({ onFrame, onOpen, onState: setLive });
  $('live').addEventListener('click', () => stream.now());
  inbox.load();
  stream.connect();
  startRouter(routes);
}

init();
