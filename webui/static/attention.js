// What draws the eye to new mail from another tab: the unread count in the
// page's title and on its icon, and, if the user turns them on, the
// browser's notifications.

import { $, toast } from './dom.js';
import { pref, setPref } from './prefs.js';

// paintUnread puts the unread count in the title and on the favicon.
export function paintUnread(unread) {
  document.title = unread > 0 ? `(${unread.toLocaleString()}) mailsink` : 'mailsink';
  paintFavicon(unread);
}

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

// ---------- notifications ----------
// Opt-in: the bell in the top bar asks for the browser's permission on its
// first click, never before; on or off is remembered. A notification is
// shown only while this tab is hidden or not focused, once for a burst of
// messages, and a click on it brings the tab forward with the message open.

const BURST = 1000; // ms: new messages this close together are one notification

let notifyOn = false;
let burst = [];
let burstTimer = 0;
let openHook = () => {};

const supported = () => typeof Notification === 'function';

// initNotify shows the bell; open(id) is what a click on a notification
// opens.
export function initNotify(open) {
  openHook = open;
  const b = $('notify');
  if (!supported()) return; // the bell stays hidden
  b.hidden = false;
  // On only if it was on and the browser still allows it: nothing is asked.
  notifyOn = pref('notify', 'off') === 'on' && Notification.permission === 'granted';
  paintNotify();
  b.addEventListener('click', toggleNotify);
}

async function toggleNotify() {
  if (notifyOn) {
    setNotify(false);
    return;
  }
  let perm = Notification.permission;
  if (perm === 'default') {
    try {
      perm = await Notification.requestPermission();
    } catch {
      perm = 'denied';
    }
  }
  if (perm === 'granted') {
    setNotify(true);
  } else {
    setNotify(false);
    toast(perm === 'denied'
      ? 'This browser blocks notifications from this page: allow them in its site settings, then click the bell again.'
      : 'Notifications stay off: the browser was not allowed to show them.');
  }
}

function setNotify(on) {
  notifyOn = on;
  setPref('notify', on ? 'on' : 'off');
  paintNotify();
}

function paintNotify() {
  const b = $('notify');
  const denied = supported() && Notification.permission === 'denied';
  b.setAttribute('aria-pressed', notifyOn ? 'true' : 'false');
  b.classList.toggle('on', notifyOn);
  const what = notifyOn ? 'Notifications of new mail are on (while this tab is in the background). Click to turn them off.'
    : denied ? 'Notifications are blocked for this page in the browser’s settings.'
      : 'Notify me of new mail while this tab is in the background.';
  b.title = what;
  $('notify-text').textContent = what;
}

// noteNew is called with every new message's summary.
export function noteNew(m) {
  if (!notifyOn || !m || !m.ID) return;
  if (document.visibilityState === 'visible' && document.hasFocus()) return;
  burst.push(m);
  if (!burstTimer) burstTimer = setTimeout(flush, BURST);
}

function flush() {
  burstTimer = 0;
  const list = burst;
  burst = [];
  if (!notifyOn || !list.length || Notification.permission !== 'granted') return;
  const last = list[list.length - 1];
  const from = last.From ? (last.From.Name || last.From.Address) : '';
  let n;
  try {
    n = list.length === 1
      ? new Notification(last.Subject || '(no subject)', { body: from ? `From ${from}` : '', tag: 'mailsink-new', icon: 'favicon.svg' })
      : new Notification(`${list.length} new messages`, { body: `The newest: ${last.Subject || '(no subject)'}${from ? ` from ${from}` : ''}`, tag: 'mailsink-new', icon: 'favicon.svg' });
  } catch {
    return; // a browser that shows them only from a service worker: none then
  }
  n.onclick = () => {
    window.focus();
    openHook(last.ID);
    n.close();
  };
}
