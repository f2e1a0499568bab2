// What the inbox shows, shared by its views, and its repaint. Views change
// `state` and call render(); one paint per animation frame follows, so a
// burst of thousands of live events costs one repaint.

import { $ } from './dom.js';

export const PAGE = 100;
export const SESSIONS = 200; // transcripts listed; the API keeps more

export const state = {
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
  sessOpen: null,   // ID of the transcript shown
  sessOpenT: null,  // it, with its lines
};

// tagTerm searches for one tag: quoted, since names may hold spaces (a
// name never holds a quote: the server keeps letters, digits, space - _ . @).
export const tagTerm = (name) => `tag:"${name}"`;

// fullQuery is the Messages view's search as the API takes it: what was
// typed, and the port and tag filters.
export const fullQuery = () => [state.query.trim(), state.port ? `port:${state.port}` : '', state.tag ? tagTerm(state.tag) : ''].filter(Boolean).join(' ');

export const indexOf = (id) => state.messages.findIndex((m) => m.ID === id);

let painter = () => {};
let frame = 0;

// onPaint sets what a repaint does (the entry module wires it once).
export function onPaint(fn) { painter = fn; }

export function render() {
  if (!frame) frame = requestAnimationFrame(() => { frame = 0; painter(); });
}

// showPane shows, on the right (or alone on a narrow screen), what the
// current view has open: a message, a transcript, or the placeholder.
export function showPane() {
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
