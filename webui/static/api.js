// The JSON API under /api/v1/ (Mailpit's shapes). Paths are relative so the
// inbox also works below a path prefix.

const enc = encodeURIComponent;

// A page opened as http://user:password@host/ keeps the credentials in its
// base URL, and browsers refuse fetches and frames resolved against such a
// URL: open it once more without them (the browser keeps them for the
// origin, and sends them from then on).
if (new URL(document.baseURI).username) location.replace(location.href);

async function req(method, path, body) {
  const init = { method, headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(path, init);
  if (!res.ok) {
    let msg = `${res.status} ${res.statusText}`;
    try {
      const text = (await res.text()).trim();
      try {
        const j = JSON.parse(text);
        if (j && j.Error) msg = j.Error;
      } catch {
        if (text) msg = text.slice(0, 200);
      }
    } catch { /* keep the status line */ }
    const err = new Error(msg);
    err.status = res.status;
    throw err;
  }
  return res;
}

export const partURL = (id, part) => `api/v1/message/${enc(id)}/part/${enc(part)}`;
export const rawURL = (id) => `api/v1/message/${enc(id)}/raw`;
export const viewURL = (id, remote) => `view/${enc(id)}.html${remote ? '?remote=1' : ''}`;

export async function list(query, start, limit) {
  const q = `start=${start}&limit=${limit}`;
  const path = query ? `api/v1/search?query=${enc(query)}&${q}` : `api/v1/messages?${q}`;
  return (await req('GET', path)).json();
}

// message fetches one message, which marks it read.
export async function message(id) {
  return (await req('GET', `api/v1/message/${enc(id)}`)).json();
}

export async function raw(id) {
  return (await req('GET', rawURL(id))).text();
}

export async function headers(id) {
  return (await req('GET', `api/v1/message/${enc(id)}/headers`)).json();
}

export async function remove(ids) {
  await req('DELETE', 'api/v1/messages', { IDs: ids });
}

// removeAll deletes every message: Mailpit's DELETE without IDs.
export async function removeAll() {
  await req('DELETE', 'api/v1/messages');
}

// removeMatching deletes the messages a search selects, and only those.
export async function removeMatching(query) {
  await req('DELETE', `api/v1/search?query=${enc(query)}`);
}

// setReadMatching marks the messages a search selects read or unread.
export async function setReadMatching(query, read) {
  await req('PUT', 'api/v1/messages', { Search: query, Read: read });
}

// setRead marks ids (none: all messages) read or unread.
export async function setRead(ids, read) {
  await req('PUT', 'api/v1/messages', ids && ids.length ? { IDs: ids, Read: read } : { Read: read });
}

// tags lists every tag in the store, sorted.
export async function tags() {
  return (await req('GET', 'api/v1/tags')).json();
}

// setTags replaces the tags of ids (Mailpit's PUT /api/v1/tags); none removes them.
export async function setTags(ids, tags) {
  await req('PUT', 'api/v1/tags', { IDs: ids, Tags: tags });
}

export const sessionURL = (id) => `api/v1/session/${enc(id)}`;

// sessions lists transcript summaries newest first, without their lines
// (the server's verdict instead); port and client ('' for any) narrow the
// list as the API does.
export async function sessions(port, client, limit) {
  const q = new URLSearchParams({ limit: String(limit), lines: '0' });
  if (port) q.set('port', port);
  if (client) q.set('client', client);
  return (await req('GET', `api/v1/sessions?${q}`)).json();
}

// session fetches one transcript with its lines.
export async function session(id) {
  return (await req('GET', sessionURL(id))).json();
}

// clearSessions forgets the finished transcripts.
export async function clearSessions() {
  await req('DELETE', 'api/v1/sessions');
}

// resumeListener ends a simulated outage of the SMTP port.
export async function resumeListener(port) {
  await req('POST', `api/v1/listeners/${enc(String(port))}/resume`);
}

export const thumbURL = (id, part) => `${partURL(id, part)}/thumb`;

// htmlCheck scores the message's HTML against mail clients (caniemail).
export async function htmlCheck(id) {
  return (await req('GET', `api/v1/message/${enc(id)}/html-check`)).json();
}

// linkCheck asks every link of the message for its status: mailsink
// sends the requests, so it is only called on the user's click.
export async function linkCheck(id, follow) {
  return (await req('GET', `api/v1/message/${enc(id)}/link-check?follow=${follow ? 'true' : 'false'}`)).json();
}
