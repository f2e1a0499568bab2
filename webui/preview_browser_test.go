package webui_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// inNewTab runs actions in the tab that open (a click) makes, whose URL
// holds path, and closes that tab afterwards.
func inNewTab(ctx context.Context, path string, open chromedp.Action[chromedp.Void], actions ...chromedp.Action[chromedp.Void]) error {
	found, stop, err := watchTargets(ctx, func(info *target.Info) bool { return info.Type == "page" && strings.Contains(info.URL, path) })
	if err != nil {
		return err
	}
	defer stop()
	if err := chromedp.Do(ctx, open); err != nil {
		return err
	}
	var id target.ID
	select {
	case id = <-found:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("no new tab for %s", path)
	}
	tctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(id))
	defer cancel()
	if err := chromedp.Do(tctx, actions...); err != nil {
		return err
	}
	_, err = chromedp.Call(tctx, page.Close, cdp.Empty{})
	return err
}

// emulateMedia sets the CSS media type ("print", or "" for the screen).
func emulateMedia(kind string) chromedp.Action[chromedp.Void] {
	return emulated(emulation.SetEmulatedMediaParams{Media: kind})
}

// The HTML previews at a tablet's and a phone's width, scaled down when
// the pane is narrower; attachments shown, named, opened sandboxed or
// downloaded; and Print, which prints the header and the body.
func TestBrowserPreviews(t *testing.T) {
	ctx := browser(t)
	s := startSink(t)
	mk := newMarker(t)
	shots := os.Getenv("MAILSINK_SCREENSHOTS")
	news := addAs(t, s.Store, newsletterMail(t, 60, mk.srv.URL), 587, true, "news")
	hostile := addAs(t, s.Store, hostileMail(mk.srv.URL), 2525, false, "")
	w := &watcher{t: t, ctx: ctx}
	if err := chromedp.Listen(ctx, w.listener("previews")); err != nil {
		t.Fatal(err)
	}
	d := &driver{t: t, ctx: ctx, shots: shots}
	tab := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Click(chromedp.CSS(fmt.Sprintf(`button.tab[data-tab=%q]`, name)))
	}
	width := func(key string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(chromedp.Click(chromedp.CSS(fmt.Sprintf(`.seg button[data-width=%q]`, key))),
			poll(fmt.Sprintf(`!!document.querySelector('.frame-wrap[data-width=%q] iframe.html-frame')`, key)))
	}
	// frame reports the frame's box in the page and the width its
	// document lays out at.
	frame := func(id string) (box []float64, inner int) {
		t.Helper()
		d.do("the frame's box", poll(`document.querySelector('iframe.html-frame').getBoundingClientRect().width > 0`),
			store(&box, chromedp.Evaluate[[]float64](`(() => { const r = document.querySelector('iframe.html-frame').getBoundingClientRect(); const p = document.querySelector('.frame-wrap').getBoundingClientRect(); return [r.width, r.height, p.width, r.left - p.left]; })()`)))
		if err := inFrame(ctx, w, id, chromedp.WaitReady(chromedp.CSS(`body`)), store(&inner, chromedp.Evaluate[int](`innerWidth`))); err != nil {
			t.Fatalf("inside the frame: %v", err)
		}
		return box, inner
	}

	d.do("a desktop", chromedp.EmulateViewport(1440, 900), media("light"))
	d.do("open the newsletter", chromedp.Navigate(s.URL+"/#/message/"+news.ID), chromedp.WaitVisible(frameSel(news.ID)))
	box, inner := frame(news.ID)
	if box[0] != box[2] || inner != int(box[0]) {
		t.Errorf("desktop: frame %v px wide in a %v px pane, laid out at %d px; want the pane's width", box[0], box[2], inner)
	}
	d.shot("preview-desktop")
	d.do("tablet", width("tablet"))
	box, inner = frame(news.ID)
	if box[0] != 768 || inner != 768 || box[3] <= 0 {
		t.Errorf("tablet: frame %v px wide at %v from the left, laid out at %d px; want 768 px, centred", box[0], box[3], inner)
	}
	d.shot("preview-tablet")
	d.do("phone", width("phone"))
	box, inner = frame(news.ID)
	if box[0] != 375 || inner != 375 {
		t.Errorf("phone: frame %v px wide, laid out at %d px; want 375", box[0], inner)
	}
	var pressed []string
	d.do("which width is pressed", store(&pressed, chromedp.Evaluate[[]string](`[...document.querySelectorAll('.seg button[aria-pressed="true"]')].map((b) => b.dataset.width)`)))
	if len(pressed) != 1 || pressed[0] != "phone" {
		t.Errorf("pressed width buttons %v, want phone", pressed)
	}
	d.do("dark", media("dark"))
	d.shot("preview-phone-dark")
	d.do("light", media("light"))

	// The hostile mail at a phone's width is as inert as at any other.
	d.do("the hostile mail at a phone's width", chromedp.Navigate(s.URL+"/#/message/"+hostile.ID), chromedp.WaitVisible(frameSel(hostile.ID)),
		poll(`!!document.querySelector('.frame-wrap[data-width="phone"]')`))
	var sandbox, pwned string
	d.do("its sandbox", store(&sandbox, chromedp.Evaluate[string](`document.querySelector('iframe.html-frame').getAttribute('sandbox')`)))
	if sandbox != "allow-popups allow-popups-to-escape-sandbox" {
		t.Errorf("phone preview frame sandbox = %q", sandbox)
	}
	if err := inFrame(ctx, w, hostile.ID, chromedp.WaitVisible(chromedp.CSS(`#hello`)), chromedp.Click(chromedp.CSS(`#jslink`)),
		store(&pwned, chromedp.Evaluate[string](`document.body.getAttribute('data-pwned') || ''`))); err != nil {
		t.Fatalf("hostile frame: %v", err)
	}
	if pwned != "" {
		t.Errorf("script ran in the phone preview: %s", pwned)
	}

	// On a phone, a tablet's width is scaled down to fit: the 600 px table
	// is seen whole, its right edge inside the screen.
	d.do("a phone again", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch),
		chromedp.Navigate(s.URL+"/#/message/"+news.ID), chromedp.WaitVisible(frameSel(news.ID)), width("tablet"))
	box, inner = frame(news.ID)
	var note string
	d.do("the note", store(&note, chromedp.Text(chromedp.ID("preview-note"))))
	if inner != 768 || box[0] > 390 || box[0] < 300 || !strings.Contains(note, "768 px, shown at") {
		t.Errorf("tablet on a phone: frame %v px on screen, laid out at %d px, note %q; want 768 px scaled under 390", box[0], inner, note)
	}
	var edge float64
	if err := inFrame(ctx, w, news.ID, chromedp.WaitVisible(chromedp.CSS(`#right-edge`)),
		store(&edge, chromedp.Evaluate[float64](`document.getElementById('right-edge').getBoundingClientRect().right`))); err != nil {
		t.Fatal(err)
	}
	if edge > float64(inner) {
		t.Errorf("the table's right edge is at %v of %d: cut", edge, inner)
	}
	d.shot("preview-tablet-on-phone")
	d.do("the choice is kept", chromedp.Reload(), chromedp.WaitVisible(frameSel(news.ID)), poll(`!!document.querySelector('.frame-wrap[data-width="tablet"]')`))
	d.do("desktop again", width("desktop"))

	// Attachments: every part named with its type and size; images shown.
	d.do("a desktop again", chromedp.EmulateViewport(1440, 900), tab("attachments"), chromedp.WaitVisible(chromedp.CSS(`ul.parts`)),
		poll(`[...document.querySelectorAll('ul.parts img')].every((i) => i.complete && i.naturalWidth > 0)`))
	type partView struct {
		Name, Info, Thumb, Preview, Open, Download string
		ThumbW, PreviewW                           int
	}
	var parts []partView
	d.do("read the parts", store(&parts, chromedp.Evaluate[[]partView](`[...document.querySelectorAll('ul.parts li.part')].map((li) => {
		const q = (s) => li.querySelector(s);
		return {
			Name: q('.part-name').textContent, Info: q('.part-info').textContent,
			Thumb: q('img.thumb') ? q('img.thumb').getAttribute('src') : '', ThumbW: q('img.thumb') ? q('img.thumb').naturalWidth : 0,
			Preview: q('img.part-preview') ? q('img.part-preview').getAttribute('src') : '', PreviewW: q('img.part-preview') ? q('img.part-preview').naturalWidth : 0,
			Open: q('a.part-open') ? q('a.part-open').getAttribute('href') : '', Download: q('a.part-download').getAttribute('href'),
		};
	})`)))
	byName := map[string]partView{}
	for _, p := range parts {
		byName[p.Name] = p
	}
	png, pdf, svg, html := byName["chart.png"], byName["report.pdf"], byName["logo.svg"], byName["page.html"]
	if !strings.HasSuffix(png.Thumb, "/thumb") || png.ThumbW == 0 || png.PreviewW != 80 {
		t.Errorf("chart.png: thumbnail %q (%d px), preview %d px wide; want the /thumb and the 80 px image", png.Thumb, png.ThumbW, png.PreviewW)
	}
	if svg.ThumbW == 0 || svg.PreviewW != 40 {
		t.Errorf("logo.svg: not shown as an image: %+v", svg)
	}
	if pdf.Preview != "" || pdf.Open != "" || !strings.Contains(pdf.Info, "application/pdf") || !strings.Contains(pdf.Info, "125 B") {
		t.Errorf("report.pdf: %+v; want its type and size, no Open", pdf)
	}
	for _, p := range parts {
		if !strings.HasSuffix(p.Download, "?dl=1") {
			t.Errorf("%s: download link %q", p.Name, p.Download)
		}
	}
	d.shot("preview-attachments")
	d.do("dark", media("dark"))
	d.shot("preview-attachments-dark")
	d.do("light", media("light"))

	// The part route serves each part sandboxed (no script in our origin)
	// and, for a download, as an attachment.
	for _, p := range parts {
		for _, u := range []string{p.Download, strings.TrimSuffix(p.Download, "?dl=1")} {
			res, err := http.Get(s.URL + "/" + u)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			disp, csp := res.Header.Get("Content-Disposition"), res.Header.Get("Content-Security-Policy")
			if !strings.HasPrefix(csp, "sandbox;") || res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s: CSP %q, nosniff %q", u, csp, res.Header.Get("X-Content-Type-Options"))
			}
			if strings.HasSuffix(u, "?dl=1") != strings.HasPrefix(disp, "attachment") {
				t.Errorf("%s: Content-Disposition %q", u, disp)
			}
		}
	}
	// Opened from the inbox, an HTML or SVG part runs none of its script,
	// in an origin that is not mailsink's.
	for _, p := range []partView{html, svg} {
		var title, origin string
		if err := inNewTab(ctx, p.Open, chromedp.Click(chromedp.CSS(fmt.Sprintf(`a.part-open[href=%q]`, p.Open))),
			chromedp.WaitReady(chromedp.CSS(`:root`)),
			store(&title, chromedp.Evaluate[string](`document.title`)),
			store(&origin, chromedp.Evaluate[string](`self.origin`)),
		); err != nil {
			t.Fatalf("opening %s: %v", p.Name, err)
		}
		if strings.HasPrefix(title, "pwned") || origin != "null" {
			t.Errorf("%s opened in a new tab: title %q, origin %q; want its script not run, an opaque origin", p.Name, title, origin)
		}
	}

	// Print: the header, every recipient and the body; nothing else.
	d.do("print media", emulateMedia("print"))
	var printed map[string]bool
	d.do("what prints", store(&printed, chromedp.Evaluate[map[string]bool](`(() => {
		const shown = (sel) => { const e = document.querySelector(sel); if (!e) return false; const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
		return { topbar: shown('.topbar'), list: shown('.list-pane'), toolbar: shown('.msg-toolbar'), tabs: shown('#tabs'),
			subject: shown('#m-subject'), meta: shown('#m-meta'), body: shown('#tab-body'),
			allRecipients: document.getElementById('m-meta').innerText.includes('reader59@example.test') };
	})()`)))
	for k, want := range map[string]bool{"topbar": false, "list": false, "toolbar": false, "tabs": false, "subject": true, "meta": true, "body": true, "allRecipients": true} {
		if printed[k] != want {
			t.Errorf("printed %s = %v, want %v", k, printed[k], want)
		}
	}
	d.do("screen media", emulateMedia(""))
	// From the Attachments tab, Print shows the HTML body, waits for it,
	// then prints: window.print is counted, not run (it would block).
	var calls int
	d.do("print from another tab", chromedp.Evaluate[chromedp.Void](`window.printed = 0; window.print = () => { window.printed++; }`),
		chromedp.Click(chromedp.ID("print")), poll(`window.printed === 1`),
		store(&calls, chromedp.Evaluate[int](`document.getElementById('tab-body').classList.contains('tab-html') ? window.printed : -1`)))
	if calls != 1 {
		t.Errorf("print from the attachments tab: %d calls with the HTML shown", calls)
	}
	// The browser's own print of the page, read back as text: the header,
	// every recipient and the frame's HTML are on paper.
	r, err := chromedp.Call(ctx, page.PrintToPDF, page.PrintToPDFParams{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("pdftotext"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but pdftotext (poppler-utils) is missing")
		}
		t.Log("pdftotext (poppler-utils) not found: the printed text is not read back")
	} else {
		cmd := exec.Command("pdftotext", "-", "-")
		cmd.Stdin = bytes.NewReader(r.Data)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("pdftotext: %v", err)
		}
		text := string(out)
		for _, want := range []string{"The spring newsletter, with attachments", "reader00@example.test", "reader59@example.test", "The spring newsletter\n", "END"} {
			if !strings.Contains(text, want) {
				t.Errorf("the printout lacks %q:\n%s", want, text)
			}
		}
		for _, not := range []string{"Mark unread", "Show remote images", "Search"} {
			if strings.Contains(text, not) {
				t.Errorf("the printout has %q:\n%s", not, text)
			}
		}
	}

	if hits := mk.Hits(); len(hits) > 0 {
		t.Errorf("something reached the marker: %v", hits)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.exceptions {
		t.Errorf("uncaught exception: %s", e)
	}
	for _, dl := range w.dialogs {
		t.Errorf("a dialog opened: %s", dl)
	}
}
