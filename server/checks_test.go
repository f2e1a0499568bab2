package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mailsink/mailsink/server"
	"github.com/mailsink/mailsink/server/sinktest"
)

// checksMail is a message with an HTML body linking to site, and image
// parts: a real PNG, one whose header declares 100000x100000 pixels, a
// corrupt one (named .jpg: the bytes decide), and a PDF.
func checksMail(t *testing.T, site string) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 400, 300))
	for y := range 300 {
		for x := range 400 {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var good bytes.Buffer
	if err := png.Encode(&good, img); err != nil {
		t.Fatal(err)
	}
	var ihdr bytes.Buffer
	binary.Write(&ihdr, binary.BigEndian, [2]uint32{100000, 100000})
	ihdr.Write([]byte{8, 6, 0, 0, 0})
	chunk := append([]byte("IHDR"), ihdr.Bytes()...)
	bomb := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0d"), chunk...)
	bomb = binary.BigEndian.AppendUint32(bomb, crc32.ChecksumIEEE(chunk))
	part := func(name, ctype string, data []byte) string {
		return "--b\r\nContent-Type: " + ctype + "\r\nContent-Disposition: attachment; filename=\"" + name + "\"\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString(data) + "\r\n"
	}
	html := fmt.Sprintf(`<html><body><div style="display:flex"><a href="%s/ok">ok</a> <a href="%s/gone">gone</a></div><script>x()</script></body></html>`, site, site)
	return "From: a@example.test\r\nTo: b@example.test\r\nSubject: checks\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html + "\r\n" +
		part("photo.png", "image/png", good.Bytes()) +
		part("bomb.png", "image/png", bomb) +
		part("broken.jpg", "image/jpeg", good.Bytes()[:100]) +
		part("doc.pdf", "application/pdf", []byte("%PDF-1.4\n")) +
		"--b--\r\n"
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if v != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("%s: %v in %s", url, err, data)
		}
	}
	return resp.StatusCode
}

func TestThumbnails(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	id := deliver(t, s, "a@example.test", []string{"b@example.test"}, checksMail(t, "https://example.test"))
	var m struct {
		Attachments []struct{ PartID, FileName string }
	}
	getJSON(t, s.URL+"/api/v1/message/"+id, &m)
	parts := map[string]string{}
	for _, a := range m.Attachments {
		parts[a.FileName] = a.PartID
	}
	tests := []struct {
		file, blank, disposition string
	}{
		{"photo.png", "", `inline; filename=photo.jpg`},
		{"bomb.png", "too large", `inline; filename=bomb.jpg`},
		{"broken.jpg", "corrupt png image", `inline; filename=broken.jpg`},
		{"doc.pdf", "not an image part (application/pdf)", `inline; filename=doc.jpg`},
	}
	for _, tt := range tests {
		resp, err := http.Get(s.URL + "/api/v1/message/" + id + "/part/" + parts[tt.file] + "/thumb")
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" || resp.Header.Get("Content-Disposition") != tt.disposition {
			t.Errorf("%s: %d %v", tt.file, resp.StatusCode, resp.Header)
			continue
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width != 180 || cfg.Height != 120 {
			t.Errorf("%s: %dx%d, %v", tt.file, cfg.Width, cfg.Height, err)
		}
		if got := resp.Header.Get("X-Thumbnail-Blank"); !strings.Contains(got, tt.blank) || (tt.blank == "") != (got == "") {
			t.Errorf("%s: X-Thumbnail-Blank %q, want %q", tt.file, got, tt.blank)
		}
	}
	if code := getJSON(t, s.URL+"/api/v1/message/"+id+"/part/9/thumb", nil); code != 404 {
		t.Errorf("a missing part: %d, want 404", code)
	}
	if code := getJSON(t, s.URL+"/api/v1/message/latest/part/"+parts["photo.png"]+"/thumb", nil); code != 200 {
		t.Errorf("latest: %d, want 200", code)
	}
}

func TestHTMLCheck(t *testing.T) {
	t.Parallel()
	s := sinktest.Start(t)
	id := deliver(t, s, "a@example.test", []string{"b@example.test"}, checksMail(t, "https://example.test"))
	plain := deliver(t, s, "a@example.test", []string{"b@example.test"}, testMsg)
	var res struct {
		Platforms map[string][]string
		Total     struct{ Nodes, Tests int }
		Warnings  []struct {
			Slug    string
			Score   struct{ Found int }
			Results []struct{ Family, Support string }
		}
	}
	if code := getJSON(t, s.URL+"/api/v1/message/"+id+"/html-check", &res); code != 200 {
		t.Fatalf("html-check: %d", code)
	}
	slugs := map[string]int{}
	for _, w := range res.Warnings {
		slugs[w.Slug] = w.Score.Found
	}
	if slugs["html-script"] != 1 || slugs["css-display-flex"] != 1 || res.Warnings[0].Slug != "html-script" || len(res.Platforms["ios"]) == 0 || res.Total.Nodes < 5 {
		t.Errorf("html-check: %+v", res)
	}
	if code := getJSON(t, s.URL+"/api/v1/message/"+plain+"/html-check", nil); code != 400 {
		t.Errorf("a message without HTML: %d, want 400", code)
	}
}

// The link check reaches nothing on loopback by default, and does with
// MAILSINK_LINK_CHECK_ALLOW_PRIVATE.
func TestLinkCheck(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/ok" {
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(site.Close)
	type answer struct {
		Errors int
		Links  []struct {
			URL        string
			StatusCode int
			Status     string
		}
	}
	for _, allow := range []bool{false, true} {
		s := sinktest.Start(t, sinktest.WithConfig(func(c *server.Config) { c.LinkCheckAllowPrivate = allow }))
		id := deliver(t, s, "a@example.test", []string{"b@example.test"}, checksMail(t, site.URL))
		before := hits.Load()
		var res answer
		if code := getJSON(t, s.URL+"/api/v1/message/"+id+"/link-check?follow=true", &res); code != 200 || len(res.Links) != 2 {
			t.Fatalf("allow %v: %d %+v", allow, code, res)
		}
		got := fmt.Sprint(res.Links[0].StatusCode, res.Links[0].Status, "|", res.Links[1].StatusCode, res.Links[1].Status)
		want, wantHits := "451Blocked private/reserved address|451Blocked private/reserved address", int32(0)
		if allow {
			want, wantHits = "200OK|404Not Found", 2
		}
		if got != want || res.Errors != 2-map[bool]int{false: 0, true: 1}[allow] || hits.Load()-before != wantHits {
			t.Errorf("allow %v: %s, Errors %d, %d requests; want %s and %d requests", allow, got, res.Errors, hits.Load()-before, want, wantHits)
		}
		if code := getJSON(t, s.URL+"/api/v1/message/"+id+"/link-check?follow=perhaps", nil); code != 400 {
			t.Errorf("follow=perhaps: %d, want 400", code)
		}
		// Another site's page cannot set a check off; the inbox can.
		for site, want := range map[string]int{"cross-site": 403, "same-site": 403, "same-origin": 200} {
			before := hits.Load()
			req, _ := http.NewRequest("GET", s.URL+"/api/v1/message/"+id+"/link-check", nil)
			req.Header.Set("Sec-Fetch-Site", site)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want || (want == 403 && hits.Load() != before) {
				t.Errorf("Sec-Fetch-Site %s: %d (%d requests sent), want %d", site, resp.StatusCode, hits.Load()-before, want)
			}
		}
	}
}
