// The user's choices that outlive a page: kept in localStorage under
// "mailsink.<name>". A browser that refuses storage (a private window with
// it disabled) gets the defaults, every time.

export function pref(name, fallback) {
  try {
    const v = localStorage.getItem(`mailsink.${name}`);
    return v === null ? fallback : v;
  } catch {
    return fallback;
  }
}

export function setPref(name, value) {
  try {
    localStorage.setItem(`mailsink.${name}`, value);
  } catch {
    // Not kept: the choice lasts as long as the page.
  }
}
