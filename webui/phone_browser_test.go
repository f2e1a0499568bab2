package webui_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
)

// overflowJS lists the visible controls that stick out of the viewport
// sideways, and says so if the page itself scrolls sideways. A control
// inside a container that scrolls sideways counts as reachable.
const overflowJS = `(() => {
  const out = [];
  const W = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > W + 1) out.push('the page scrolls sideways: ' + document.documentElement.scrollWidth + ' > ' + W);
  const scrollsX = (el) => { for (let p = el.parentElement; p; p = p.parentElement) { const o = getComputedStyle(p).overflowX; if ((o === 'auto' || o === 'scroll') && p.scrollWidth > p.clientWidth) return p; } return null; };
  for (const el of document.querySelectorAll('button, a[href], input, select, label, [role=tab]')) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || getComputedStyle(el).visibility === 'hidden') continue;
    if (r.left >= -0.5 && r.right <= W + 0.5) continue;
    const sc = scrollsX(el);
    if (sc) { const c = sc.getBoundingClientRect(); if (c.left >= -0.5 && c.right <= W + 0.5) continue; }
    out.push((el.id || el.className || el.tagName) + ' "' + (el.textContent || el.value || '').trim().slice(0, 30) + '" spans ' + Math.round(r.left) + '..' + Math.round(r.right));
  }
  return out;
})()`

// contrastJS lists visible text whose contrast with what is behind it is
// under 4.5:1 (WCAG AA for text). Disabled controls are exempt, as WCAG
// exempts them.
const contrastJS = `(() => {
  const parse = (c) => {
    let m = /^rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)$/.exec(c);
    if (m) return [+m[1], +m[2], +m[3], m[4] === undefined ? 1 : +m[4]];
    m = /^color\(srgb ([\d.e-]+) ([\d.e-]+) ([\d.e-]+)(?: \/ ([\d.]+))?\)$/.exec(c);
    if (m) return [m[1] * 255, m[2] * 255, m[3] * 255, m[4] === undefined ? 1 : +m[4]];
    return null;
  };
  const over = (top, bottom) => { const a = top[3]; return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat(1); };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const b = parse(getComputedStyle(e).backgroundColor);
      if (b && b[3] > 0) { layers.push(b); if (b[3] >= 1) break; }
    }
    let bg = parse(getComputedStyle(document.body).backgroundColor) || [255, 255, 255, 1];
    for (const l of layers.reverse()) bg = over(l, bg);
    return bg;
  };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const out = [];
  for (const el of [...document.querySelectorAll('body *')].filter((e) => e.tagName === 'INPUT' || e.tagName === 'SELECT' || [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim()))) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || el.disabled || el.closest('[hidden]') || !el.textContent.trim() && el.tagName !== 'INPUT' && el.tagName !== 'SELECT') continue;
    const cs = getComputedStyle(el);
    if (cs.visibility === 'hidden' || +cs.opacity < 1) continue;
    const fg0 = parse(cs.color), bg = background(el);
    if (!fg0) { out.push('unparsed color ' + cs.color); continue; }
    const fg = over(fg0, bg);
    const a = lum(fg), b = lum(bg);
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) out.push((el.id || el.className || el.tagName) + ' "' + el.textContent.trim().slice(0, 24) + '" ' + ratio.toFixed(2) + ':1 (' + cs.color + ' on rgb(' + bg.slice(0, 3).map(Math.round) + '))');
  }
  return out;
})()`

// At a phone's width (390 × 844) the inbox is two steps: the list, then the
// message with a Back button. Every control is within the screen, every
// message tab is in sight, a 600 px newsletter can be scrolled inside its
// frame to its right edge, and the text keeps its contrast in light and
// dark.
func TestBrowserPhoneSized(t *testing.T) {
	ctx := browser(t)
	s := startSink(t)
	mk := newMarker(t)
	shots := os.Getenv("MAILSINK_SCREENSHOTS")
	addAs(t, s.Store, readMail(t, "01-plain-ascii.eml"), 25, false, "")
	addAs(t, s.Store, readMail(t, "08-rfc2047-headers.eml"), 465, true, "billing")
	news := addAs(t, s.Store, newsletterMail(t, 60, mk.srv.URL), 587, true, "news")
	sess := s.Store.Sessions().Start(storageTranscript(587))
	sess.Add("C", "EHLO a-rather-long-client-name.phone.example.test")
	sess.Add("S", "250-mailsink at your service, with a long reply line that has to wrap on a phone")
	sess.End()
	w := &watcher{t: t, ctx: ctx}
	if err := chromedp.Listen(ctx, w.listener("phone")); err != nil {
		t.Fatal(err)
	}
	d := &driver{t: t, ctx: ctx, shots: shots}

	// noOverflow fails the test with every control that sticks out.
	noOverflow := func(where string) {
		t.Helper()
		var out []string
		d.do("overflow "+where, store(&out, chromedp.Evaluate[[]string](overflowJS)))
		for _, o := range out {
			t.Errorf("%s: %s", where, o)
		}
	}
	contrast := func(where string) {
		t.Helper()
		var out []string
		d.do("contrast "+where, store(&out, chromedp.Evaluate[[]string](contrastJS)))
		for _, o := range out {
			t.Errorf("%s: low contrast: %s", where, o)
		}
	}
	visible := func(id string) string {
		return fmt.Sprintf(`(() => { const r = document.getElementById(%q).getBoundingClientRect(); return r.width > 0 && r.height > 0; })()`, id)
	}
	tab := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Click(chromedp.CSS(fmt.Sprintf(`button.tab[data-tab=%q]`, name)))
	}

	d.do("a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch), media("light"))
	d.do("open the inbox", chromedp.Navigate(s.URL+"/"), chromedp.WaitVisible(rowSel(news.ID)),
		poll(visible("list")+` && !(`+visible("message-pane")+`)`))
	noOverflow("list")
	contrast("list, light")
	d.shot("phone-list")

	d.do("step two: the message", chromedp.Click(rowSel(news.ID)), chromedp.WaitVisible(frameSel(news.ID)),
		poll(`!(`+visible("list")+`) && `+visible("back")))
	noOverflow("message")
	contrast("message, light")
	d.shot("phone-message")

	// Every tab button in sight: none cut, none behind a hidden scroll.
	var tabs []string
	d.do("tab buttons", store(&tabs, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#tabs button.tab')].filter((b) => {
		const r = b.getBoundingClientRect();
		return !(r.left >= 0 && r.right <= document.documentElement.clientWidth && r.top >= 0 && r.bottom <= innerHeight && r.width > 0);
	}).map((b) => b.dataset.tab + ' ' + JSON.stringify(b.getBoundingClientRect()))`)))
	for _, tb := range tabs {
		t.Errorf("tab button out of sight: %s", tb)
	}
	var n int
	d.do("count the tabs", store(&n, chromedp.Evaluate[int](`document.querySelectorAll('#tabs button.tab').length`)))
	if n < 8 {
		t.Errorf("%d tab buttons, want every tab", n)
	}

	// The 600 px table: the frame stays within the screen and scrolls
	// inside itself to the table's right edge.
	var frameBox []float64
	d.do("frame box", store(&frameBox, chromedp.Evaluate[[]float64](fmt.Sprintf(
		`(() => { const r = document.querySelector('iframe.html-frame[src$=%q]').getBoundingClientRect(); return [r.left, r.right, r.height]; })()`, news.ID+".html"))))
	if frameBox[0] < 0 || frameBox[1] > 390.5 || frameBox[2] < 300 {
		t.Errorf("the HTML frame spans %v..%v, %v px high; want it within 390 px and at least 300 px high", frameBox[0], frameBox[1], frameBox[2])
	}
	var wide, seen bool
	var right, inner float64
	if err := inFrame(ctx, w, news.ID,
		chromedp.WaitVisible(chromedp.CSS(`#news`)),
		store(&wide, chromedp.Evaluate[bool](`document.scrollingElement.scrollWidth > innerWidth`)),
		chromedp.Evaluate[chromedp.Void](`document.scrollingElement.scrollLeft = 10000`),
		store(&right, chromedp.Evaluate[float64](`document.getElementById('right-edge').getBoundingClientRect().right`)),
		store(&inner, chromedp.Evaluate[float64](`document.documentElement.clientWidth`)),
		store(&seen, chromedp.Evaluate[bool](`(() => { const r = document.getElementById('right-edge').getBoundingClientRect(); return r.left >= 0 && r.right <= document.documentElement.clientWidth + 0.5; })()`)),
	); err != nil {
		t.Fatalf("the newsletter's frame: %v", err)
	}
	if !wide || !seen {
		t.Errorf("the 600 px table: wider than the frame %v, its right edge (at %v of %v) in sight after scrolling %v", wide, right, inner, seen)
	}

	for _, name := range []string{"text", "source", "headers", "attachments", "delivery", "html-check", "link-check", "html"} {
		d.do("the "+name+" tab", tab(name), poll(fmt.Sprintf(`document.getElementById('tab-body').classList.contains('tab-%s') && !document.querySelector('#tab-body > p.muted:only-child')`, name)))
		noOverflow(name + " tab")
	}
	d.do("dark", media("dark"), poll(`matchMedia('(prefers-color-scheme: dark)').matches`))
	contrast("message, dark")
	d.shot("phone-message-dark")
	d.do("html check, dark", tab("html-check"), chromedp.WaitVisible(chromedp.CSS(`.check-summary`)))
	contrast("html check, dark")
	d.do("html check, light", media("light"), poll(`!matchMedia('(prefers-color-scheme: dark)').matches`))
	contrast("html check, light")
	d.do("attachments, dark", media("dark"), tab("attachments"), chromedp.WaitVisible(chromedp.CSS(`ul.parts`)))
	contrast("attachments, dark")
	d.shot("phone-attachments-dark")

	// Sixty recipients in full still leave the body in reach.
	d.do("all the recipients", chromedp.Click(chromedp.CSS(`#m-meta .link-btn`)), poll(`document.getElementById('m-meta').textContent.includes('reader59@')`))
	noOverflow("all recipients")
	var bodyTop float64
	d.do("scroll to the body", chromedp.Evaluate[chromedp.Void](`document.getElementById('tab-body').scrollIntoView()`),
		store(&bodyTop, chromedp.Evaluate[float64](`document.getElementById('tab-body').getBoundingClientRect().top`)))
	if bodyTop < 0 || bodyTop > 844 {
		t.Errorf("the body is at %v px after scrolling to it", bodyTop)
	}
	d.do("step back", chromedp.Click(chromedp.ID("back")), poll(visible("list")+` && !(`+visible("message")+`)`))
	contrast("list, dark")
	d.shot("phone-list-dark")

	d.do("sessions", chromedp.Click(chromedp.ID("tab-sessions")), chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`li.srow[data-id=%q]`, sess.ID()))))
	noOverflow("sessions")
	d.do("a session", chromedp.Click(chromedp.CSS(fmt.Sprintf(`li.srow[data-id=%q]`, sess.ID()))), chromedp.WaitVisible(chromedp.ID("s-lines")),
		poll(visible("s-back")+` && !(`+visible("sessions")+`)`))
	noOverflow("session")
	contrast("session, dark")
	d.do("light", media("light"), poll(`!matchMedia('(prefers-color-scheme: dark)').matches`))
	contrast("session, light")
	d.shot("phone-session")

	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.exceptions {
		t.Errorf("uncaught exception: %s", e)
	}
	if hits := mk.Hits(); len(hits) > 0 {
		t.Errorf("the newsletter reached the marker: %v", hits)
	}
}
