// Package metrics serves mailsink's Prometheus metrics (GET /metrics).
//
// Nothing is counted for it: every value is read at scrape time from
// counters that exist anyway (the store's Stats, each SMTP listener's
// Stats, the inbox's WebSocket count, the API's waits, the webhook
// sender's Stats) by one custom prometheus.Collector, so capture pays
// nothing for metrics whether or not anyone scrapes them. Its registry is
// the server's own, never client_golang's global default one.
//
// It reads storage, smtpd and webhook; nothing imports it but server.
package metrics

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mailsink/mailsink/server/smtpd"
	"github.com/mailsink/mailsink/server/webhook"
	"github.com/mailsink/mailsink/storage"
)

// Sources are where the values come from; a nil func leaves its metrics out.
type Sources struct {
	Store            func() storage.Stats
	Limits           storage.Limits
	Listeners        func() []smtpd.Stats
	WebSocketClients func() int
	Waits            func() int
	Webhook          func() webhook.Stats // nil without a webhook URL
}

// Handler serves the metrics of src in Prometheus' text format, with Go
// runtime and process metrics beside them.
func Handler(src Sources) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		newCollector(src),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("mailsink_"+name, help, labels, nil)
}

// collector reads Sources at each scrape. Its descriptions are its own
// (built by Handler), not package state.
type collector struct {
	src Sources

	smtpSessions, smtpOpen, smtpReplies                       *prometheus.Desc
	accepted, acceptedBytes, stored, unread, deleted, evicted *prometheus.Desc
	storeBytes, storeMaxMsgs, storeMaxBytes                   *prometheus.Desc
	wsClients, waits                                          *prometheus.Desc
	hookDeliveries, hookRetries, hookTimeouts, hookDropped    *prometheus.Desc
	hookQueued                                                *prometheus.Desc
	all                                                       []*prometheus.Desc
}

// newCollector describes the metrics, named as the README's table lists them.
func newCollector(src Sources) *collector {
	c := &collector{
		src:            src,
		smtpSessions:   desc("smtp_sessions_total", "SMTP connections served (or refused past MAILSINK_MAX_CONNECTIONS), by listener.", "listener"),
		smtpOpen:       desc("smtp_connections_open", "SMTP connections being served now, by listener.", "listener"),
		smtpReplies:    desc("smtp_replies_total", "SMTP replies sent, by listener and reply code (a multi-line reply once).", "listener", "code"),
		accepted:       desc("messages_accepted_total", "Messages accepted and stored since start."),
		acceptedBytes:  desc("messages_accepted_bytes_total", "Raw bytes of the messages accepted since start."),
		stored:         desc("messages_stored", "Messages held now."),
		unread:         desc("messages_unread", "Messages held and not marked read."),
		deleted:        desc("messages_deleted_total", "Messages deleted through the API or the inbox."),
		evicted:        desc("messages_evicted_total", "Messages evicted to respect MAILSINK_MAX_MESSAGES and MAILSINK_MAX_STORE_SIZE."),
		storeBytes:     desc("store_bytes", "Bytes the store holds: raw messages, envelopes and per-message records (what MAILSINK_MAX_STORE_SIZE limits)."),
		storeMaxMsgs:   desc("store_limit_messages", "MAILSINK_MAX_MESSAGES (0: no limit)."),
		storeMaxBytes:  desc("store_limit_bytes", "MAILSINK_MAX_STORE_SIZE (0: no limit)."),
		wsClients:      desc("websocket_clients", "Live inbox WebSockets (/api/events)."),
		waits:          desc("waits_in_progress", "GET /api/v1/wait calls waiting now."),
		hookDeliveries: desc("webhook_deliveries_total", "Webhook calls by result: delivered (2xx), or failed (a 4xx, or every attempt failed).", "result"),
		hookRetries:    desc("webhook_retries_total", "Webhook attempts after a first one (5xx answers, network errors, timeouts)."),
		hookTimeouts:   desc("webhook_timeouts_total", "Webhook attempts that got no answer within MAILSINK_WEBHOOK_TIMEOUT."),
		hookDropped:    desc("webhook_dropped_total", "Messages whose webhook call was never made: the queue was full, or they were gone before the sender saw them."),
		hookQueued:     desc("webhook_queue_length", "Messages waiting for their webhook call."),
	}
	c.all = []*prometheus.Desc{
		c.smtpSessions, c.smtpOpen, c.smtpReplies, c.accepted, c.acceptedBytes, c.stored, c.unread, c.deleted, c.evicted,
		c.storeBytes, c.storeMaxMsgs, c.storeMaxBytes, c.wsClients, c.waits,
		c.hookDeliveries, c.hookRetries, c.hookTimeouts, c.hookDropped, c.hookQueued,
	}
	return c
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.all {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if c.src.Listeners != nil {
		for _, l := range c.src.Listeners() {
			counter(c.smtpSessions, float64(l.Sessions), l.Listener)
			gauge(c.smtpOpen, float64(l.Open), l.Listener)
			for code, n := range l.Replies {
				counter(c.smtpReplies, float64(n), l.Listener, strconv.Itoa(code))
			}
		}
	}
	if c.src.Store != nil {
		st := c.src.Store()
		counter(c.accepted, float64(st.Accepted))
		counter(c.acceptedBytes, float64(st.AcceptedBytes))
		gauge(c.stored, float64(st.Total))
		gauge(c.unread, float64(st.Unread))
		counter(c.deleted, float64(st.Deleted))
		counter(c.evicted, float64(st.Evicted))
		gauge(c.storeBytes, float64(st.Bytes))
		gauge(c.storeMaxMsgs, float64(c.src.Limits.MaxMessages))
		gauge(c.storeMaxBytes, float64(c.src.Limits.MaxBytes))
	}
	if c.src.WebSocketClients != nil {
		gauge(c.wsClients, float64(c.src.WebSocketClients()))
	}
	if c.src.Waits != nil {
		gauge(c.waits, float64(c.src.Waits()))
	}
	if c.src.Webhook != nil {
		st := c.src.Webhook()
		counter(c.hookDeliveries, float64(st.Delivered), "delivered")
		counter(c.hookDeliveries, float64(st.Failed), "failed")
		counter(c.hookRetries, float64(st.Retries))
		counter(c.hookTimeouts, float64(st.Timeouts))
		counter(c.hookDropped, float64(st.Dropped))
		gauge(c.hookQueued, float64(st.Queued))
	}
}
