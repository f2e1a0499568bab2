// What the top of the page says about the sink: the ports in the port
// filter, whether live updates are up, and which listeners are paused.

import { h, $, whenExact, toast } from './dom.js';
import * as api from './api.js';
import { state } from './state.js';

// notePort adds a message's port, or a port number, to the port filter.
export function notePort(s) {
  const p = typeof s === 'number' ? s : s && s.Delivery && s.Delivery.Port;
  if (p > 0 && !state.ports.has(p)) {
    state.ports.add(p);
    renderPorts();
  }
}

function renderPorts() {
  const sel = $('port');
  const ports = [...state.ports].sort((a, b) => a - b);
  const cur = sel.value;
  sel.replaceChildren(h('option', { value: '', text: 'All ports' }), ...ports.map((p) => h('option', { value: String(p), text: `Port ${p}` })));
  sel.value = cur;
}

let liveTick = 0;

// setLive shows the stream's state: live, retrying (with a countdown), or
// connecting.
export function setLive(s) {
  state.live = !!s.live;
  const el = $('live');
  el.classList.toggle('up', state.live);
  el.classList.toggle('down', !state.live);
  clearInterval(liveTick);
  const text = $('live-text');
  if (s.live) {
    text.textContent = 'Live';
    el.title = 'Receiving live updates';
  } else if (s.retryAt) {
    const show = () => {
      const secs = Math.max(0, Math.ceil((s.retryAt - Date.now()) / 1000));
      text.textContent = secs > 0 ? `Offline · retry in ${secs}s` : 'Reconnecting…';
    };
    show();
    liveTick = setInterval(show, 1000);
    el.title = 'Live updates are down. Click to reconnect now.';
  } else {
    text.textContent = 'Connecting…';
  }
}

// paintOutage says which SMTP ports are paused (POST
// /api/v1/listeners/{port}/pause), so nobody wonders why mail stopped.
const pauseWhat = { refuse: 'refuses connections', 421: 'answers 421 and hangs up', hang: 'accepts connections and never greets' };
export function paintOutage(listeners) {
  const paused = listeners.filter((l) => l.Paused);
  const bar = $('outage');
  bar.hidden = !paused.length;
  bar.replaceChildren(...paused.map((l) => h('div', { class: 'outage-row', dataset: { port: String(l.Port) } },
    h('strong', { text: `Port ${l.Port} is paused` }),
    h('span', { text: ` (simulated outage: it ${pauseWhat[l.PauseMode] || l.PauseMode}) since ${whenExact(l.PausedSince)}. ` }),
    h('button', {
      type: 'button', class: 'link', text: 'Resume',
      onclick: async () => {
        try { await api.resumeListener(l.Port); } catch (err) { toast(`Could not resume port ${l.Port}: ${err.message}`); }
      },
    }))));
}
