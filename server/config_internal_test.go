package server

import (
	"testing"
	"time"
)

func TestFormatDuration(t *testing.T) {
	for _, v := range []string{"10s", "1m", "1m30s", "1h", "1h30m", "500ms", "20m"} {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := formatDuration(d); got != v {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, v)
		}
	}
}
