package webui_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
)

// newsletterMail is a message as newsletters come: a 600 px wide table
// layout, a text part, many recipients, and attachments of every kind the
// inbox previews: a PNG, a PDF, and an SVG and an HTML page that carry
// script aimed at markerURL.
func newsletterMail(t *testing.T, recipients int, markerURL string) []byte {
	t.Helper()
	var to []string
	for i := range recipients {
		to = append(to, fmt.Sprintf("reader%02d@example.test", i))
	}
	img := image.NewRGBA(image.Rect(0, 0, 80, 60))
	for y := range 60 {
		for x := range 80 {
			img.Set(x, y, color.RGBA{uint8(x * 3), uint8(y * 4), 200, 255})
		}
	}
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, img); err != nil {
		t.Fatal(err)
	}
	pdf := "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
	svg := `<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><script>document.title='pwned-svg';fetch('` + markerURL + `/svg')</script><rect width="40" height="40" fill="red"/></svg>`
	page := `<!doctype html><title>attached</title><script>document.title='pwned-html';fetch('` + markerURL + `/html-part')</script><p id="attached">attached page</p>`
	html := `<!doctype html><html><body style="margin:0;background:#eee">` +
		`<table id="news" width="600" cellpadding="0" cellspacing="0" style="width:600px;background:#fff;margin:0 auto">` +
		`<tr><td style="padding:20px;font:16px sans-serif">The spring newsletter</td><td id="right-edge" style="width:120px;text-align:right">END</td></tr>` +
		`</table></body></html>`
	b64 := func(b []byte) string {
		s := base64.StdEncoding.EncodeToString(b)
		var out strings.Builder
		for len(s) > 76 {
			out.WriteString(s[:76] + "\r\n")
			s = s[76:]
		}
		out.WriteString(s)
		return out.String()
	}
	var b strings.Builder
	b.WriteString("From: News <news@example.test>\r\nTo: " + strings.Join(to, ", ") + "\r\n" +
		"Subject: The spring newsletter, with attachments\r\nDate: Thu, 28 Mar 2024 04:00:00 +0000\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=outer\r\n\r\n" +
		"--outer\r\nContent-Type: multipart/alternative; boundary=alt\r\n\r\n" +
		"--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe spring newsletter.\r\n" +
		"--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html + "\r\n--alt--\r\n")
	part := func(ct, name, body string) {
		b.WriteString("--outer\r\nContent-Type: " + ct + "; name=\"" + name + "\"\r\nContent-Disposition: attachment; filename=\"" + name + "\"\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\n" + b64([]byte(body)) + "\r\n")
	}
	part("image/png", "chart.png", pngBuf.String())
	part("application/pdf", "report.pdf", pdf)
	part("image/svg+xml", "logo.svg", svg)
	part("text/html", "page.html", page)
	b.WriteString("--outer--\r\n")
	return []byte(b.String())
}
