package webui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// recordNotifications runs before the inbox's own script in every page of
// the tab: it counts permission requests and records each notification
// made, while the browser's own Notification still does the work.
const recordNotifications = `(() => {
  const Real = window.Notification;
  if (typeof Real !== 'function') return;
  window.asked = 0;
  window.shown = [];
  const ask = Real.requestPermission.bind(Real);
  class Recorded extends Real {
    constructor(title, opts) {
      super(title, opts);
      window.shown.push({ title, body: (opts && opts.body) || '', n: this });
    }
  }
  Object.defineProperty(Recorded, 'permission', { get: () => Real.permission });
  Recorded.requestPermission = (...args) => { window.asked++; return ask(...args); };
  window.Notification = Recorded;
})()`

// Opt-in notifications: the bell asks for permission on its click and
// never before; the choice outlives a reload; a notification comes only
// while the tab is not focused, one for a burst; a click on it opens the
// message.
func TestBrowserNotifications(t *testing.T) {
	ctx := browser(t)
	s := startSink(t)
	d := &driver{t: t, ctx: ctx}
	w := &watcher{t: t, ctx: ctx}
	if err := chromedp.Listen(ctx, w.listener("notify")); err != nil {
		t.Fatal(err)
	}
	permission := func(setting cdpbrowser.PermissionSetting) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.CallBrowser(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
				Permission: &cdpbrowser.PermissionDescriptor{Name: "notifications"}, Setting: setting, Origin: s.URL,
			})
			return err
		})
	}
	// Headless Chromium has no window manager to move focus: the tab counts
	// as focused while focus emulation is on, and as another window having
	// the focus once it is off. Input events would focus the tab for good,
	// so the bell is clicked from script until then.
	focusEmulation := func(on bool) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(c context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(c, t, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: on})
			return err
		})
	}
	mail := func(subject string) string {
		return addAs(t, s.Store, []byte("From: Build Bot <ci@example.test>\r\nTo: dev@example.test\r\nSubject: "+subject+"\r\n\r\nbody\r\n"), 25, false, "").ID
	}
	var asked, shown int
	counts := chromedp.Steps(store(&asked, chromedp.Evaluate[int](`window.asked`)), store(&shown, chromedp.Evaluate[int](`window.shown.length`)))

	d.do("record notifications", chromedp.Func(func(c context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(c, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: recordNotifications})
		return err
	}))
	d.do("open the inbox", chromedp.Navigate(s.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#live.up`)), chromedp.WaitVisible(chromedp.ID("notify")), focusEmulation(true),
		poll(`document.hasFocus()`))
	first := mail("While you look")
	var state string
	d.do("nothing asked on load or on new mail", chromedp.WaitVisible(rowSel(first)), counts,
		store(&state, chromedp.Evaluate[string](`document.getElementById('notify').getAttribute('aria-pressed') + ' ' + Notification.permission`)))
	if asked != 0 || shown != 0 || state != "false default" {
		t.Fatalf("before any click: %d permission requests, %d notifications, bell and permission %q; want none, off, default", asked, shown, state)
	}

	// The click asks. Headless Chromium answers the prompt by itself (no
	// one to ask): whatever it says, the bell stays off unless granted.
	click := chromedp.Evaluate[chromedp.Void](`document.getElementById('notify').click()`)
	d.do("the click asks", click, poll(`window.asked === 1`),
		poll(`document.getElementById('notify').getAttribute('aria-pressed') === 'false'`))
	// Granted (as a user would in the prompt): the next click turns it on.
	d.do("granted", permission(cdpbrowser.PermissionSettingGranted), click,
		poll(`document.getElementById('notify').getAttribute('aria-pressed') === 'true' && localStorage.getItem('mailsink.notify') === 'on'`))

	// Focused: nothing. Another window focused: one notification, about
	// the message that came then, not the one before.
	focused := mail("While focused")
	d.do("focused mail arrives", chromedp.WaitVisible(rowSel(focused)))
	d.do("the inbox loses focus", focusEmulation(false), poll(`!document.hasFocus()`))
	away := mail("While away")
	var title, body string
	d.do("a notification", poll(`window.shown.length === 1`),
		store(&title, chromedp.Evaluate[string](`window.shown[0].title`)), store(&body, chromedp.Evaluate[string](`window.shown[0].body`)))
	if title != "While away" || body != "From Build Bot" {
		t.Errorf("notification %q / %q, want the message that came while away", title, body)
	}
	d.do("a click on it opens the message", chromedp.Evaluate[chromedp.Void](`window.shown[0].n.dispatchEvent(new Event('click'))`),
		poll(fmt.Sprintf(`location.hash === %q && document.getElementById('message').dataset.id === %q`, "#/message/"+away, away)))

	// A burst is one notification.
	for i := range 5 {
		mail(fmt.Sprintf("Burst %d", i))
	}
	d.do("one for the burst", poll(`window.shown.length === 2`), store(&title, chromedp.Evaluate[string](`window.shown[1].title`)))
	if title != "5 new messages" {
		t.Errorf("burst notification %q", title)
	}

	// Remembered: on after a reload, without asking again.
	d.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#live.up`)),
		poll(`document.getElementById('notify').getAttribute('aria-pressed') === 'true'`), counts)
	if asked != 0 {
		t.Errorf("%d permission requests after a reload with notifications on", asked)
	}
	d.do("off", chromedp.Click(chromedp.ID("notify")),
		poll(`document.getElementById('notify').getAttribute('aria-pressed') === 'false' && localStorage.getItem('mailsink.notify') === 'off'`))

	// Blocked in the browser: on in storage is not enough, and a click
	// says where to allow them instead of asking.
	d.do("blocked", chromedp.Evaluate[chromedp.Void](`localStorage.setItem('mailsink.notify', 'on')`), permission(cdpbrowser.PermissionSettingDenied),
		chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#live.up`)),
		poll(`document.getElementById('notify').getAttribute('aria-pressed') === 'false' && document.getElementById('notify').title.includes('blocked')`),
		chromedp.Click(chromedp.ID("notify")), chromedp.WaitVisible(chromedp.ID("toast")), counts)
	var toast string
	d.do("the toast", store(&toast, chromedp.Text(chromedp.ID("toast"))))
	if asked != 0 || !strings.Contains(toast, "site settings") {
		t.Errorf("blocked: %d requests, toast %q", asked, toast)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.exceptions {
		t.Errorf("uncaught exception: %s", e)
	}
}
