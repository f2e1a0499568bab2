package webui_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mailsink/mailsink/storage"
)

// Two tabs on one inbox stay in sync through Mailpit's WebSocket frames:
// what one marks read or unread, tags or deletes, the other shows without
// a reload. Tags show on rows and in the message view as text, and a click
// on one filters the list by it.
func TestBrowserTwoTabsStayInSync(t *testing.T) {
	ctx := browser(t)
	s := startSink(t)
	tagged := addAs(t, s.Store, []byte("From: billing@example.test\r\nTo: a@example.test\r\nSubject: Tagged at capture\r\n"+
		"X-Tags: invoice, <img src=x onerror=alert(1)>, Urgent\r\n\r\nbody\r\n"), 25, false, "")
	plain := addAs(t, s.Store, readMail(t, "01-plain-ascii.eml"), 25, false, "")
	other := addAs(t, s.Store, readMail(t, "08-rfc2047-headers.eml"), 465, true, "billing")

	// A second tab (target) in the same browser: its own window, so both
	// get animation frames. It is made here, on its own context: a tab
	// made by the first step would close with that step's context.
	ctx2, cancel := chromedp.NewContext(ctx)
	defer cancel()
	if err := chromedp.Do(ctx2); err != nil {
		t.Fatalf("opening a second tab: %v", err)
	}
	one, two := &driver{t: t, ctx: ctx}, &driver{t: t, ctx: ctx2}
	w1, w2 := &watcher{t: t, ctx: ctx}, &watcher{t: t, ctx: ctx2}
	for _, open := range []*driver{one, two} {
		open.do("open the inbox", chromedp.Navigate(s.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#live.up`)),
			poll(`document.querySelectorAll('li.row').length === 3`))
	}
	if err := chromedp.Listen(ctx, w1.listener("tab 1")); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Listen(ctx2, w2.listener("tab 2")); err != nil {
		t.Fatal(err)
	}
	rowTags := func(d *driver, id string) []string {
		t.Helper()
		var tags []string
		d.do("read the tags of "+id, store(&tags, chromedp.Evaluate[[]string](fmt.Sprintf(
			`[...document.querySelectorAll('li.row[data-id=%q] .tag')].map((b) => b.textContent)`, id))))
		return tags
	}
	wantTags := func(id string, tags ...string) string {
		js, _ := jsonString(append([]string{}, tags...))
		return fmt.Sprintf(`JSON.stringify([...document.querySelectorAll('li.row[data-id=%q] .tag')].map((b) => b.textContent)) === %q`, id, js)
	}
	isUnread := func(id string, unread bool) string {
		return fmt.Sprintf(`!!document.querySelector('li.row[data-id=%q]') && document.querySelector('li.row[data-id=%q]').classList.contains('unread') === %v`, id, id, unread)
	}
	openMsg := func(d *driver, id string) {
		t.Helper()
		d.do("open "+id, chromedp.Click(rowSel(id)), poll(fmt.Sprintf(`document.getElementById('message').dataset.id === %q`, id)))
	}

	// Tags from X-Tags, cleaned by the store, shown as text only.
	if got := rowTags(one, tagged.ID); !slices.Equal(got, []string{"img src x onerror alert 1", "invoice", "Urgent"}) {
		t.Errorf("row tags %q", got)
	}
	var imgs int
	one.do("no markup from a tag", store(&imgs, chromedp.Evaluate[int](`document.querySelectorAll('.tags img, .tags *:not(button)').length`)))
	if imgs != 0 {
		t.Errorf("%d elements inside the tag lists besides the tag buttons", imgs)
	}

	// Read state: tab 1 opens a message (which marks it read), tab 2 sees
	// it; tab 2 marks it unread again, tab 1's row and button follow.
	openMsg(one, plain.ID)
	two.within(2*time.Second, "tab 2 sees it read", poll(isUnread(plain.ID, false)))
	openMsg(two, plain.ID)
	two.do("tab 2 marks it unread", chromedp.Click(chromedp.ID("toggle-read")), poll(isUnread(plain.ID, true)))
	one.within(2*time.Second, "tab 1 sees it unread", poll(isUnread(plain.ID, true)),
		poll(`document.getElementById('toggle-read').textContent === 'Mark read'`))

	// Tags: tab 1 tags the open message in its view; tab 2 shows the tags
	// on the row and in its own view of the same message.
	one.do("tab 1 tags it", chromedp.Click(chromedp.ID("edit-tags")), chromedp.WaitVisible(chromedp.ID("tag-input")),
		chromedp.SendKeys(chromedp.ID("tag-input"), "Follow up, invoice\n"),
		poll(`[...document.querySelectorAll('#m-tags .tag')].map((b) => b.textContent).join('|') === 'Follow up|invoice'`))
	if got := s.Store.TagCounts(); got["invoice"] != 2 || got["Follow up"] != 1 {
		t.Errorf("store tag counts %v", got)
	}
	two.within(2*time.Second, "tab 2 sees the tags on the row", poll(wantTags(plain.ID, "Follow up", "invoice")))
	two.within(2*time.Second, "and in its view", poll(`[...document.querySelectorAll('#m-tags .tag')].map((b) => b.textContent).join('|') === 'Follow up|invoice'`))
	two.within(2*time.Second, "the tag filter lists the store's tags",
		poll(`[...document.getElementById('tag').options].map((o) => o.value).join('|') === '|Follow up|img src x onerror alert 1|invoice|Urgent' && !document.getElementById('tag').hidden`))

	// A rename through the API reaches both tabs' rows.
	if _, err := s.Store.RenameTag("urgent", "Now"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*driver{one, two} {
		d.within(2*time.Second, "rename shows", poll(wantTags(tagged.ID, "img src x onerror alert 1", "invoice", "Now")))
	}

	// Clicking a tag filters by it: tag:"Follow up" (quoted: a space).
	two.do("tab 2 filters by a tag", chromedp.Click(chromedp.CSS(fmt.Sprintf(`li.row[data-id=%q] .tag[data-tag="Follow up"]`, plain.ID))),
		poll(`document.querySelectorAll('li.row').length === 1`), poll(`document.getElementById('tag').value === 'Follow up'`))
	two.do("by another", chromedp.Click(chromedp.CSS(fmt.Sprintf(`li.row[data-id=%q] .tag[data-tag="invoice"]`, plain.ID))),
		poll(`document.querySelectorAll('li.row').length === 2`))
	two.do("all tags again", chromedp.Evaluate[chromedp.Void](`{ const s = document.getElementById('tag'); s.value = ''; s.dispatchEvent(new Event('change')); }`),
		poll(`document.querySelectorAll('li.row').length === 3`))

	// Untagging in tab 2 empties tab 1's row and view.
	two.do("tab 2 removes the tags", chromedp.Click(chromedp.ID("edit-tags")), chromedp.WaitVisible(chromedp.ID("tag-input")),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('tag-input').value = ''`),
		chromedp.Click(chromedp.ID("tag-save")))
	one.within(2*time.Second, "tab 1 sees them gone", poll(wantTags(plain.ID)),
		poll(`document.querySelectorAll('#m-tags .tag').length === 0`))

	// Deleting in tab 2 removes the row in tab 1 and closes its view.
	two.do("tab 2 deletes the open message", chromedp.Click(chromedp.ID("delete-one")), chromedp.WaitNotPresent(rowSel(plain.ID)))
	one.within(2*time.Second, "tab 1 loses it", chromedp.WaitNotPresent(rowSel(plain.ID)),
		poll(`document.getElementById('message').hidden && document.getElementById('toast').textContent === 'This message was deleted.'`))
	if _, err := s.Store.Get(plain.ID); err == nil {
		t.Error("the deleted message is still stored")
	}

	// Many at once (Mailpit's prune): both tabs reload and agree.
	for range 210 {
		addAs(t, s.Store, readMail(t, "01-plain-ascii.eml"), 25, false, "")
	}
	s.Store.SetRead(nil, true)
	for _, d := range []*driver{one, two} {
		d.within(5*time.Second, "after a prune, nothing is unread", poll(`document.querySelectorAll('li.row.unread').length === 0 && document.querySelectorAll('li.row').length === 100`))
	}
	gone := s.Store.DeleteMatching(func(m *storage.Message) bool { return m.ID != tagged.ID && m.ID != other.ID })
	if len(gone) != 210 {
		t.Fatalf("deleted %d", len(gone))
	}
	for _, d := range []*driver{one, two} {
		d.within(5*time.Second, "after a prune of deletions, the two left", poll(`document.querySelectorAll('li.row').length === 2`))
	}

	for _, w := range []*watcher{w1, w2} {
		if len(w.exceptions) > 0 || len(w.dialogs) > 0 {
			t.Errorf("exceptions %q, dialogs %q", w.exceptions, w.dialogs)
		}
	}
}

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}
