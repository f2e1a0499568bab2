package server

import (
	"net"
	"strings"
	"testing"
)

// Bound to every interface, the banner names URLs a browser can open: the
// HTTP listener here is on loopback, the configuration says 0.0.0.0, as in
// the image.
func TestBannerForEveryInterface(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	for _, container := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.Bind, cfg.Container = "0.0.0.0", container
		s := New(cfg, nil, nil)
		s.httpLn = ln
		text := strings.Join(s.Banner(), "\n")
		if strings.Contains(text, "0.0.0.0:") || !strings.Contains(text, "Web inbox and API: http://localhost:"+port+"/") {
			t.Errorf("container %v: banner names no URL a browser opens:\n%s", container, text)
		}
		if got := strings.Contains(text, "In a container") && strings.Contains(text, "as published"); got != container {
			t.Errorf("container %v: banner says it runs in a container: %v\n%s", container, got, text)
		}
	}
}
