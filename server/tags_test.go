package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailsink/mailsink/server"
	"github.com/mailsink/mailsink/server/client"
	"github.com/mailsink/mailsink/server/sinktest"
)

// Tags over real HTTP, with mail delivered over SMTP: X-Tags at capture,
// Mailpit's routes to set, rename and delete them, searches, waits, info.
func TestAPITags(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	ctx := context.Background()
	tagged := deliver(t, s, "a@example.test", []string{"one@example.test"},
		"From: a@example.test\r\nTo: one@example.test\r\nSubject: tagged\r\nX-Tags: alpha, Beta , alpha\r\n\r\nhi\r\n")
	plain := deliver(t, s, "a@example.test", []string{"two@example.test"}, testMsg)

	tags := func(want ...string) {
		t.Helper()
		got, err := s.Client.Tags(ctx)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("GET /api/v1/tags = %q, %v; want %q", got, err, want)
		}
	}
	messageTags := func(id string, want ...string) {
		t.Helper()
		m, err := s.Client.Message(ctx, id)
		if err != nil || m.Tags == nil || !slices.Equal(m.Tags, want) { // [] in JSON, never null
			t.Fatalf("message %s Tags = %#v, %v; want %q", id, m.Tags, err, want)
		}
		list, err := s.Client.Search(ctx, "to:"+m.To[0].Address, 0, 0)
		if err != nil || len(list.Messages) != 1 || list.Messages[0].Tags == nil || !slices.Equal(list.Messages[0].Tags, m.Tags) {
			t.Fatalf("summary of %s: %+v, %v", id, list, err)
		}
	}
	search := func(q string, want ...string) {
		t.Helper()
		list, err := s.Client.Search(ctx, q, 0, 0)
		if err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
		var got []string
		for _, m := range list.Messages {
			got = append(got, m.ID)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("search %q = %q, want %q", q, got, want)
		}
	}

	tags("alpha", "Beta")
	messageTags(tagged, "alpha", "Beta")
	messageTags(plain)
	list, err := s.Client.List(ctx, 0, 10)
	if err != nil || !slices.Equal(list.Tags, []string{"alpha", "Beta"}) {
		t.Fatalf("list's tags = %q, %v", list.Tags, err)
	}

	// Set replaces; a tag in another case keeps its first spelling.
	if err := s.Client.SetTags(ctx, []string{plain, "no-such-id"}, "beta", "two words", "bad/char"); err != nil {
		t.Fatal(err)
	}
	messageTags(plain, "bad char", "Beta", "two words")
	tags("alpha", "bad char", "Beta", "two words")
	search("tag:beta", plain, tagged)
	search(`tag:"two words"`, plain)
	search("tag:alpha", tagged)
	search("-tag:alpha", plain)
	search("is:tagged", plain, tagged)
	search("-is:tagged")

	// A wait for a tag is woken by the tagging, not only by arrivals.
	woke := make(chan error, 1)
	go func() {
		list, err := s.Client.Wait(ctx, "tag:late", 1, 10*time.Second)
		if err == nil && (len(list.Messages) != 1 || list.Messages[0].ID != tagged) {
			err = errors.New("wrong message")
		}
		woke <- err
	}()
	waitForWaiters(t, s, 1)
	if err := s.Client.SetTags(ctx, []string{tagged}, "alpha", "Beta", "late"); err != nil {
		t.Fatal(err)
	}
	if err := <-woke; err != nil {
		t.Fatalf("wait for tag:late: %v", err)
	}

	// Rename and delete, on every message carrying the tag.
	if err := s.Client.RenameTag(ctx, "BETA", "Gamma"); err != nil {
		t.Fatal(err)
	}
	messageTags(tagged, "alpha", "Gamma", "late")
	messageTags(plain, "bad char", "Gamma", "two words")
	if err := s.Client.DeleteTag(ctx, "two words"); err != nil {
		t.Fatal(err)
	}
	messageTags(plain, "bad char", "Gamma")
	if err := s.Client.SetTags(ctx, []string{plain}); err != nil { // none: removes them
		t.Fatal(err)
	}
	messageTags(plain)
	tags("alpha", "Gamma", "late")

	info, err := s.Client.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(info.Tags, map[string]int{"alpha": 1, "Gamma": 1, "late": 1}) {
		t.Errorf("info Tags = %v", info.Tags)
	}

	// Deleting the message gives its tags back.
	if err := s.Client.Delete(ctx, tagged); err != nil {
		t.Fatal(err)
	}
	tags()
}

// waitForWaiters waits until n waits (or tabs) subscribe to the store.
func waitForWaiters(t *testing.T, s *sinktest.Sink, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.Store.Subscribers() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers, want %d", s.Store.Subscribers(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// Client mistakes on the tag routes are JSON 4xx naming what was wrong.
func TestAPITagMistakes(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	id := deliver(t, s, "a@example.test", []string{"b@example.test"},
		"From: a@example.test\r\nSubject: x\r\nX-Tags: red, blue\r\n\r\nhi\r\n")
	many := `"t0"`
	for i := 1; i <= 100; i++ {
		many += `,"t` + strconv.Itoa(i) + `"`
	}
	tests := []struct {
		method, path, body string
		status             int
		errContains        string
	}{
		{"PUT", "/api/v1/tags", "", 400, "want JSON such as"},
		{"PUT", "/api/v1/tags", `{"IDs":["` + id + `"],"Tag":["x"]}`, 400, `unknown field "Tag"`},
		{"PUT", "/api/v1/tags", `{"IDs":"x"}`, 400, "IDs"},
		{"PUT", "/api/v1/tags", `{"IDs":["` + id + `"],"Tags":[` + many + `]}`, 400, "Tags: more than 100 tags"},
		{"PUT", "/api/v1/tags/red", `{"Name":"###"}`, 400, `Name "###"`},
		{"PUT", "/api/v1/tags/red", `{"Name":"BLUE"}`, 409, `Name "BLUE": a tag of that name exists`},
		{"PUT", "/api/v1/tags/red", `{"New":"x"}`, 400, `unknown field "New"`},
		{"PUT", "/api/v1/tags/red", ``, 400, "want JSON such as"},
		{"PUT", "/api/v1/tags/green", `{"Name":"x"}`, 404, `tag "green" not found`},
		{"DELETE", "/api/v1/tags/green", "", 404, `tag "green" not found`},
		{"POST", "/api/v1/tags", "", 404, "no API endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+tt.body[:min(len(tt.body), 30)], func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, s.URL+tt.path, strings.NewReader(tt.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			var body struct{ Error string }
			if resp.StatusCode != tt.status || json.Unmarshal(data, &body) != nil || !strings.Contains(body.Error, tt.errContains) {
				t.Fatalf("%d %s, want %d with an Error containing %q", resp.StatusCode, data, tt.status, tt.errContains)
			}
		})
	}
	if got, err := s.Client.Tags(context.Background()); err != nil || !slices.Equal(got, []string{"blue", "red"}) {
		t.Fatalf("after the mistakes the tags are %q, %v", got, err)
	}
}

// /api/v1/info is Mailpit's whole AppInformation, filled from what the
// sink knows; /api/v1/webui is Mailpit's UI configuration.
func TestAPIInfoAndWebUI(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	ctx := context.Background()
	deliver(t, s, "a@example.test", []string{"b@example.test"}, testMsg)
	gone := deliver(t, s, "a@example.test", []string{"b@example.test"}, testMsg)
	if err := s.Client.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	// A message refused after DATA, by a fault rule: SMTPRejected.
	if _, err := s.Client.AddFaults(ctx, client.Rule{Stage: "data", Reply: "554 5.7.1 Refused by a fault rule"}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, s.Addr(25), nil, false)
	wantCode(t, send(c, "a@example.test", []string{"b@example.test"}, testMsg), 554, "5.7.1")

	resp, err := http.Get(s.URL + "/api/v1/info")
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		RuntimeStats map[string]json.RawMessage
		Tags         json.RawMessage
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Uptime", "Memory", "MessagesDeleted", "SMTPAccepted", "SMTPAcceptedSize", "SMTPRejected", "SMTPIgnored"} {
		if _, ok := raw.RuntimeStats[k]; !ok {
			t.Errorf("RuntimeStats lacks Mailpit's %s: %s", k, data)
		}
	}
	if string(raw.Tags) != "{}" {
		t.Errorf("Tags = %s, want {}", raw.Tags)
	}
	info, err := s.Client.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rs := info.RuntimeStats
	if info.Messages != 1 || rs.SMTPAccepted != 2 || rs.SMTPAcceptedSize != int64(2*len(testMsg)) || rs.MessagesDeleted != 1 ||
		rs.SMTPRejected != 1 || rs.SMTPIgnored != 0 || rs.Memory == 0 || info.LatestVersion != "disabled" || info.Database != ":memory:" ||
		info.DatabaseSize != info.StoreBytes || info.DatabaseSize == 0 {
		t.Errorf("info = %+v", info)
	}

	resp, err = http.Get(s.URL + "/api/v1/webui")
	if err != nil {
		t.Fatal(err)
	}
	data, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Label":"","MessageRelay":{"Enabled":false,"SMTPServer":"","ReturnPath":"","AllowedRecipients":"","BlockedRecipients":"",` +
		`"OverrideFrom":"","PreserveMessageIDs":false,"RecipientAllowlist":""},"SpamAssassin":false,"Rspamd":false,"ChaosEnabled":true,` +
		`"DuplicatesIgnored":false,"HideDeleteAllButton":false}`
	if strings.TrimSpace(string(data)) != want || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("GET /api/v1/webui = %s (%s), want %s", data, resp.Header.Get("Content-Type"), want)
	}
	if cfg, err := s.Client.WebUI(ctx); err != nil || !cfg.ChaosEnabled || cfg.MessageRelay.Enabled {
		t.Errorf("client WebUI = %+v, %v", cfg, err)
	}
}

// Plus-addresses become tags over SMTP, as with Mailpit, unless
// MAILSINK_TAGS_DISABLE says plus-addresses.
func TestPlusAddressTagsOverSMTP(t *testing.T) {
	t.Parallel()
	for _, disable := range []string{"", "plus-addresses"} {
		cfg, err := server.LoadConfig(nil, func(k string) string {
			if k == "MAILSINK_TAGS_DISABLE" {
				return disable
			}
			return ""
		}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) { c.TagsNoPlus = cfg.TagsNoPlus }))
		c := dial(t, s.Addr(1025), nil, false)
		msg := "From: app@example.test\r\nTo: alice+t9@example.test\r\nSubject: plus\r\n\r\nhi\r\n"
		if err := send(c, "app@example.test", []string{"alice+t9@example.test"}, msg); err != nil {
			t.Fatal(err)
		}
		res, err := s.Client.Search(context.Background(), "tag:t9", 0, 0)
		if want := map[string]int{"": 1, "plus-addresses": 0}[disable]; err != nil || res.MessagesCount != want {
			t.Errorf("MAILSINK_TAGS_DISABLE=%q: tag:t9 finds %+v, %v; want %d", disable, res, err, want)
		}
	}
}
