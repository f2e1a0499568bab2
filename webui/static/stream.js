// The live event stream: one WebSocket to api/events that reconnects by
// itself with capped exponential backoff. The caller reloads its list on
// every open, which is how events missed while down are caught up.

export class Stream {
  constructor({ onFrame, onOpen, onState }) {
    this.onFrame = onFrame;
    this.onOpen = onOpen;
    this.onState = onState;
    this.delay = 500;
    this.timer = 0;
    this.retryAt = 0;
    this.ws = null;
  }

  url() {
    const u = new URL('api/events', location.href);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    return u.href;
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = 0;
    this.onState({ live: false, connecting: true });
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.delay = 500;
      this.onState({ live: true });
      this.onOpen();
    };
    ws.onmessage = (e) => {
      let f;
      try { f = JSON.parse(e.data); } catch { return; }
      if (f && typeof f.Type === 'string') this.onFrame(f);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.retry();
    };
  }

  retry() {
    const wait = this.delay * (0.8 + Math.random() * 0.4);
    this.delay = Math.min(this.delay * 2, 15000);
    this.retryAt = Date.now() + wait;
    this.onState({ live: false, retryAt: this.retryAt });
    this.timer = setTimeout(() => this.connect(), wait);
  }

  // now skips the wait when the stream is down.
  now() {
    if (!this.ws) this.connect();
  }
}
