// What draws the eye to new mail from another tab: the unread count in the
// page's title and on its icon.

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
