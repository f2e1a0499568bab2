// Addresses. Every message and session has a URL: #/message/ID,
// #/session/ID, #/sessions (and #/ for the inbox). Opening something
// pushes its address, so Back and Forward move between what was opened,
// and a reload or a shared link opens the same thing.

let routing = false; // following the address: it is already where it should be
let handlers = null;

// navigate records that hash is now shown (a no-op while following one).
export function navigate(hash) {
  if (routing) return;
  if (location.hash !== hash && !(hash === '#/' && location.hash === '')) history.pushState(null, '', hash);
}

// go shows hash as a link to it would: from one view into the other.
export function go(hash) {
  navigate(hash);
  route();
}

// startRouter follows the address now and on every Back or Forward. h:
// message(id), session(id), sessions(), inbox().
export function startRouter(h) {
  handlers = h;
  window.addEventListener('popstate', route);
  route();
}

function route() {
  if (!handlers) return;
  routing = true;
  try {
    const [, kind, id] = /^#\/(message|session|sessions)?\/?(.*)$/.exec(location.hash) || [];
    const want = id ? decodeURIComponent(id) : '';
    switch (kind) {
      case 'message': handlers.message(want); break;
      case 'session': handlers.session(want); break;
      case 'sessions': handlers.sessions(); break;
      default: handlers.inbox();
    }
  } finally {
    routing = false;
  }
}
