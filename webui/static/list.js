// One list pane, the messages' or the sessions': rows keyed by ID and
// reused across paints, the keyboard cursor, and moving it. A row is built
// again only when its item's version changes; a paint otherwise only
// toggles classes and moves rows into order.

import { render } from './state.js';

export class List {
  // el: the <ol>. items(): what the list shows now, in order. open(): the
  // ID the pane shows. build(item): a new <li>. version(item): the row is
  // rebuilt when this changes (default: the item itself). update(li, item):
  // what every paint sets besides the cursor and the open row.
  constructor(el, { items, open, build, version = (x) => x, update = () => {} }) {
    this.el = el;
    this.items = items;
    this.open = open;
    this.build = build;
    this.version = version;
    this.update = update;
    this.rows = new Map(); // ID -> { li, v }
    this.selected = null;  // ID the keyboard cursor is on
  }

  paint() {
    const keep = new Set();
    const open = this.open();
    let prev = null;
    for (const item of this.items()) {
      keep.add(item.ID);
      const v = this.version(item);
      let r = this.rows.get(item.ID);
      if (!r || r.v !== v) {
        const li = this.build(item);
        if (r) r.li.replaceWith(li);
        r = { li, v };
        this.rows.set(item.ID, r);
      }
      const li = r.li;
      this.update(li, item);
      li.classList.toggle('selected', item.ID === this.selected);
      li.classList.toggle('open', item.ID === open);
      li.setAttribute('aria-selected', item.ID === this.selected ? 'true' : 'false');
      const want = prev ? prev.nextSibling : this.el.firstChild;
      if (want !== li) this.el.insertBefore(li, want);
      prev = li;
    }
    for (const [id, r] of this.rows) {
      if (!keep.has(id)) {
        r.li.remove();
        this.rows.delete(id);
      }
    }
  }

  // select puts the cursor on id; scroll brings its row into view.
  select(id, scroll) {
    this.selected = id;
    render();
    if (scroll) {
      requestAnimationFrame(() => {
        const r = this.rows.get(id);
        if (r) r.li.scrollIntoView({ block: 'nearest' });
      });
    }
  }

  // move steps the cursor, from where it is or from the open item.
  move(step) {
    const list = this.items();
    if (!list.length) return;
    let i = list.findIndex((x) => x.ID === (this.selected ?? this.open()));
    i = i < 0 ? 0 : Math.max(0, Math.min(list.length - 1, i + step));
    this.select(list[i].ID, true);
  }
}
