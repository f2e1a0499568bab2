package webui_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mailsink/mailsink/storage"
)

// With a search showing, "Delete" and "Mark read" act on its matches only,
// and say so before the click is confirmed: the other messages survive.
func TestBrowserBulkActionsActOnTheSearch(t *testing.T) {
	ctx := browser(t)
	s := startSink(t)
	match := addAs(t, s.Store, readMail(t, "01-plain-ascii.eml"), 25, false, "") // the only "Lunch"
	others := []*storage.Message{
		addAs(t, s.Store, readMail(t, "03-mixed-attachments.eml"), 587, true, "app"),
		addAs(t, s.Store, readMail(t, "08-rfc2047-headers.eml"), 465, true, "billing"),
	}
	d := &driver{t: t, ctx: ctx}
	rows := func(n int) chromedp.Action[chromedp.Void] {
		return poll(fmt.Sprintf(`document.querySelectorAll('li.row').length === %d`, n))
	}
	label := func(id, want string) chromedp.Action[chromedp.Void] {
		return poll(fmt.Sprintf(`document.getElementById(%q).textContent === %q`, id, want))
	}
	sub := s.Store.Subscribe(64)
	defer sub.Close()
	// next waits for the store's next event of type want.
	next := func(want storage.EventType) storage.Event {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case e := <-sub.C:
				if e.Type == want {
					return e
				}
			case <-timeout:
				t.Fatalf("no %s event", want)
			}
		}
	}

	d.do("open the inbox", chromedp.Navigate(s.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#live.up`)), rows(3),
		label("delete-all", "Delete all"), label("mark-all-read", "Mark all read"))
	d.do("search", chromedp.SendKeys(chromedp.ID("search"), "Lunch\n"), rows(1),
		label("delete-all", "Delete matches"), label("mark-all-read", "Mark matches read"))

	d.do("mark the matches read", chromedp.Click(chromedp.ID("mark-all-read")))
	if e := next(storage.EventUpdate); !slices.Equal(e.IDs, []string{match.ID}) {
		t.Fatalf("marked %v read, want only the match %s", e.IDs, match.ID)
	}
	for _, m := range others {
		if m.Read() {
			t.Fatalf("%s was marked read outside the search", m.ID)
		}
	}

	d.do("arm the delete", chromedp.Click(chromedp.ID("delete-all")), label("delete-all", "Confirm: delete 1 match"))
	d.do("confirm it", chromedp.Click(chromedp.ID("delete-all")))
	if e := next(storage.EventDelete); !slices.Equal(e.IDs, []string{match.ID}) {
		t.Fatalf("deleted %v, want only the match %s", e.IDs, match.ID)
	}
	for _, m := range others {
		if _, err := s.Store.Get(m.ID); err != nil {
			t.Fatalf("%s outside the search was deleted", m.ID)
		}
	}

	// A confirmation armed under one search does not carry to another.
	d.do("clear the search", chromedp.Evaluate[chromedp.Void](`document.getElementById('search').value = ''; document.getElementById('search-form').requestSubmit()`), rows(2))
	d.do("arm with no search", chromedp.Click(chromedp.ID("delete-all")), label("delete-all", "Confirm: delete all 2"))
	d.do("change the search", chromedp.SendKeys(chromedp.ID("search"), "zzz-nothing\n"), rows(0), label("delete-all", "Delete matches"))
	if n := s.Store.Stats().Total; n != 2 {
		t.Fatalf("%d messages left, want 2", n)
	}
}
