// The Sessions view: the SMTP transcripts' summaries, merged with live
// "session" frames, and the open transcript with its lines.

import { h, $, whenExact, duration, fullDate, plural, toast } from './dom.js';
import * as api from './api.js';
import { state, SESSIONS, render, showPane } from './state.js';
import { List } from './list.js';
import { navigate, go } from './router.js';
import { notePort } from './topbar.js';

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

export async function loadSessions() {
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
export function applySession(d) {
  if (!d || !d.ID) return;
  notePort(d.Port);
  if (sessPending) {
    sessPending.push(d);
    return;
  }
  if (state.sessOpen === d.ID && !d.Active) refreshOpenSession();
  if (!state.sessLoaded || !sessionMatches(d)) return;
  const all = state.sessions;
  const i = all.findIndex((s) => s.ID === d.ID);
  if (i >= 0) {
    if (d.Active && !all[i].Active) return; // a start frame older than the listing
    all[i] = d;
  } else {
    // Newest first by start; one older than the whole list is beyond it.
    const at = Date.parse(d.Started);
    const j = all.findIndex((s) => Date.parse(s.Started) <= at);
    if (j >= 0) all.splice(j, 0, d);
    else if (all.length >= state.sessTotal && all.length < SESSIONS) all.push(d);
    else return;
    state.sessTotal++;
    if (all.length > SESSIONS) all.length = SESSIONS;
  }
  render();
}

const shownSessions = () => (state.errorsOnly ? state.sessions.filter((s) => failed(s) || faulted(s)) : state.sessions);

// list is the session rows; a live frame replaces a session's summary, and
// with it its row.
export const list = new List($('sessions'), {
  items: shownSessions,
  open: () => state.sessOpen,
  build: sessionRow,
});

// paint shows the rows and the counts.
export function paint() {
  list.paint();
  const shown = shownSessions();
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
    onclick: () => { list.select(s.ID); openSession(s.ID); },
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

// openSession shows a transcript; the Sessions view is shown already.
export async function openSession(id) {
  const seq = ++sessOpenSeq;
  navigate(`#/session/${encodeURIComponent(id)}`);
  list.selected = id;
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

export function closeSession(note) {
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
      text: messageLabel(id), onclick: () => go(`#/message/${encodeURIComponent(id)}`),
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

export function clearSessions() {
  api.clearSessions().then(() => {
    if (state.sessOpenT && !state.sessOpenT.Active) closeSession();
    loadSessions();
  }, (err) => toast(`Clear failed: ${err.message}`));
}
