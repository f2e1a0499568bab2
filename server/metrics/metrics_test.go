package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mailsink/mailsink/server/smtpd"
	"github.com/mailsink/mailsink/server/webhook"
	"github.com/mailsink/mailsink/storage"
)

// every source set, with a value in each metric.
var full = Sources{
	Store: func() storage.Stats {
		return storage.Stats{Total: 2, Unread: 1, Bytes: 3000, Accepted: 5, AcceptedBytes: 9000, Deleted: 2, Evicted: 1}
	},
	Limits: storage.Limits{MaxMessages: 10, MaxBytes: 1 << 20},
	Listeners: func() []smtpd.Stats {
		return []smtpd.Stats{{Listener: "smtp-25", Port: 25, Sessions: 3, Open: 1, Replies: map[int]uint64{220: 3, 250: 12, 550: 1}}}
	},
	WebSocketClients: func() int { return 2 },
	Waits:            func() int { return 4 },
	Webhook: func() webhook.Stats {
		return webhook.Stats{Queued: 1, Delivered: 3, Failed: 1, Retries: 2, Timeouts: 1, Dropped: 6}
	},
}

// The names follow Prometheus' conventions (counters end in _total, units
// in the name), as its own linter reads them.
func TestMetricsPassPrometheusLint(t *testing.T) {
	problems, err := testutil.CollectAndLint(newCollector(full))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestCollectedValues(t *testing.T) {
	c := newCollector(full)
	if n := testutil.CollectAndCount(c); n != 22 { // 5 per listener (3 reply codes), 9 of the store, 2, 6 of the webhook (2 results)
		t.Errorf("%d series, want 22", n)
	}
	if n := testutil.CollectAndCount(newCollector(Sources{})); n != 0 {
		t.Errorf("no sources: %d series", n)
	}
	noHook := full
	noHook.Webhook = nil
	if n := testutil.CollectAndCount(newCollector(noHook), "mailsink_webhook_dropped_total"); n != 0 {
		t.Errorf("webhook metrics without a webhook: %d", n)
	}
}
