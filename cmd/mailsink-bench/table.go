package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// The phases .ci/compare.sh runs against every sink, each round; a label is
// "sink:phase:round".
const (
	phaseTput    = "tput"    // 16 connections × 50 messages of ~5.4 KB, fresh sink
	phaseLatency = "latency" // one connection, 250 -> visible in the API, same sink
	phaseFill    = "fill"    // 10,000 messages into a fresh sink: CPU and memory per stored message
	phaseAttach  = "attach"  // 1 MiB attachments over 4 connections, fresh sink
)

// sinkOrder is the column order; mailsink is compared with the others.
var sinkOrder = []string{"mailsink", "mailpit", "inbucket", "discard"}

var sinkTitle = map[string]string{
	"mailsink": "mailsink",
	"mailpit":  "Mailpit",
	"inbucket": "Inbucket",
	"discard":  "go-smtp discard",
}

// rounds holds one sink's summaries: round -> phase -> summary.
type rounds map[string]map[string]*Summary

type metric struct {
	name   string
	format string
	get    func(p map[string]*Summary) (float64, bool)
	stored bool // about stored messages: meaningless for the discard server
}

func field(phase string, f func(*Summary) (float64, bool)) func(map[string]*Summary) (float64, bool) {
	return func(p map[string]*Summary) (float64, bool) {
		s, ok := p[phase]
		if !ok || s.Accepted == 0 {
			return 0, false
		}
		return f(s)
	}
}

func always(v float64) (float64, bool) { return v, true }

var metrics = []metric{
	{"msgs/s, 16 connections × 50 msgs", "%.0f", field(phaseTput, func(s *Summary) (float64, bool) { return always(s.MsgsPerSec) }), false},
	{"SMTP transaction p50 / ms", "%.2f", field(phaseTput, func(s *Summary) (float64, bool) { return always(s.LatencyMS.P50) }), false},
	{"SMTP transaction p99 / ms", "%.2f", field(phaseTput, func(s *Summary) (float64, bool) { return always(s.LatencyMS.P99) }), false},
	{"sink CPU per message, 16×50 / µs", "%.0f", field(phaseTput, func(s *Summary) (float64, bool) {
		if s.Sink == nil {
			return 0, false
		}
		return s.Sink.CPUMicrosPerMsg, true
	}), false},
	{"sink CPU per message, fill / µs", "%.0f", field(phaseFill, func(s *Summary) (float64, bool) {
		if s.Sink == nil {
			return 0, false
		}
		return s.Sink.CPUMicrosPerMsg, true
	}), false},
	{"msgs/s, fill (16 connections)", "%.0f", field(phaseFill, func(s *Summary) (float64, bool) { return always(s.MsgsPerSec) }), false},
	{"resident memory per stored message / KB", "%.1f", field(phaseFill, func(s *Summary) (float64, bool) {
		if s.Sink == nil {
			return 0, false
		}
		return s.Sink.RSSGrowthPerMsg / 1000, true
	}), true},
	{"… relative to the raw size", "%.2f×", field(phaseFill, func(s *Summary) (float64, bool) {
		if s.Sink == nil || s.AvgMsgBytes == 0 {
			return 0, false
		}
		return s.Sink.RSSGrowthPerMsg / float64(s.AvgMsgBytes), true
	}), true},
	{"250 → visible in API p50 / ms", "%.2f", field(phaseLatency, func(s *Summary) (float64, bool) {
		if s.Visible == nil || s.Visible.Samples == 0 {
			return 0, false
		}
		return s.Visible.P50, true
	}), false},
	{"250 → visible in API p99 / ms", "%.2f", field(phaseLatency, func(s *Summary) (float64, bool) {
		if s.Visible == nil || s.Visible.Samples == 0 {
			return 0, false
		}
		return s.Visible.P99, true
	}), false},
	{"250 → WebSocket event p50 / ms", "%.2f", field(phaseLatency, wsEvents(func(e *Events) float64 { return e.P50 })), false},
	{"250 → WebSocket event p99 / ms", "%.2f", field(phaseLatency, wsEvents(func(e *Events) float64 { return e.P99 })), false},
	{"… open WebSockets (-ws)", "%.0f", field(phaseLatency, wsEvents(func(e *Events) float64 { return float64(e.Sockets) })), false},
	{"1 MiB attachments, 4 connections / MB/s", "%.0f", field(phaseAttach, func(s *Summary) (float64, bool) { return always(s.MBPerSec) }), false},
	{"… peak RSS / MB", "%.0f", field(phaseAttach, func(s *Summary) (float64, bool) {
		if s.Sink == nil {
			return 0, false
		}
		return float64(s.Sink.PeakRSSKB) * 1024 / 1e6, true
	}), false},
	{"… peak RSS − idle RSS − stored bytes / MB", "%.0f", field(phaseAttach, func(s *Summary) (float64, bool) {
		if s.Sink == nil {
			return 0, false
		}
		return (float64(s.Sink.PeakRSSKB-s.Sink.RSSBeforeKB)*1024 - float64(s.Bytes)) / 1e6, true
	}), true},
}

// wsEvents reads a -ws figure; the visible figures of the same run were
// measured with those sockets open.
func wsEvents(f func(*Events) float64) func(*Summary) (float64, bool) {
	return func(s *Summary) (float64, bool) {
		if s.Events == nil || s.Events.Samples == 0 {
			return 0, false
		}
		return f(s.Events), true
	}
}

// printTable reads JSON summaries, one per line, and prints the medians over
// rounds per sink, mailsink's ratios to each other sink, and the targets of
// issue 7 as met or missed.
func printTable(path string, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	data := map[string]rounds{}
	failures := map[string]int{}
	checks := map[string]*CheckResult{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var s Summary
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			return fmt.Errorf("%s:%d: %w", path, line, err)
		}
		sink, rest, _ := strings.Cut(s.Label, ":")
		phase, round, _ := strings.Cut(rest, ":")
		if data[sink] == nil {
			data[sink] = rounds{}
		}
		if data[sink][round] == nil {
			data[sink][round] = map[string]*Summary{}
		}
		data[sink][round][phase] = &s
		failures[sink] += s.Failures
		if c := s.Check; c != nil {
			sum := checks[sink]
			if sum == nil {
				sum = &CheckResult{}
				checks[sink] = sum
			}
			sum.Checked += c.Checked
			sum.Exact += c.Exact
			sum.Rewritten += c.Rewritten
			sum.Missing += c.Missing
			sum.Duplicated += c.Duplicated
			sum.Mismatched += c.Mismatched
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	var sinks []string
	for _, s := range sinkOrder {
		if data[s] != nil {
			sinks = append(sinks, s)
		}
	}
	if len(sinks) == 0 {
		return fmt.Errorf("%s: no results", path)
	}
	med := map[string]map[string]float64{} // sink -> metric -> median
	for _, s := range sinks {
		med[s] = map[string]float64{}
		for _, m := range metrics {
			if m.stored && s == "discard" {
				continue
			}
			var vals []float64
			for _, p := range data[s] {
				if v, ok := m.get(p); ok {
					vals = append(vals, v)
				}
			}
			if len(vals) > 0 {
				slices.Sort(vals)
				med[s][m.name] = vals[len(vals)/2]
			}
		}
	}

	peers := slices.DeleteFunc(slices.Clone(sinks), func(s string) bool { return s == "mailsink" })
	hasMailsink := data["mailsink"] != nil
	var b strings.Builder
	b.WriteString("| figure (median of rounds) |")
	for _, s := range sinks {
		fmt.Fprintf(&b, " %s |", sinkTitle[s])
	}
	if hasMailsink {
		for _, p := range peers {
			fmt.Fprintf(&b, " mailsink / %s |", sinkTitle[p])
		}
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat("---:|", len(sinks)))
	if hasMailsink {
		b.WriteString(strings.Repeat("---:|", len(peers)))
	}
	b.WriteString("\n")
	for _, m := range metrics {
		if !slices.ContainsFunc(sinks, func(s string) bool { _, ok := med[s][m.name]; return ok }) {
			continue // a phase or flag no run had (-ws, say): no row of dashes
		}
		fmt.Fprintf(&b, "| %s |", m.name)
		for _, s := range sinks {
			if v, ok := med[s][m.name]; ok {
				fmt.Fprintf(&b, " "+m.format+" |", v)
			} else {
				b.WriteString(" — |")
			}
		}
		if hasMailsink {
			for _, p := range peers {
				v, ok1 := med["mailsink"][m.name]
				pv, ok2 := med[p][m.name]
				if ok1 && ok2 && pv > 0 && v >= 0 {
					fmt.Fprintf(&b, " %.2f |", v/pv)
				} else {
					b.WriteString(" — |")
				}
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "| messages not accepted, all runs |")
	for _, s := range sinks {
		fmt.Fprintf(&b, " %d |", failures[s])
	}
	if hasMailsink {
		b.WriteString(strings.Repeat(" |", len(peers)))
	}
	b.WriteString("\n| -check: fetched back through the API |")
	for _, s := range sinks {
		fmt.Fprintf(&b, " %s |", checkCell(checks[s]))
	}
	if hasMailsink {
		b.WriteString(strings.Repeat(" |", len(peers)))
	}
	b.WriteString("\n")
	if hasMailsink {
		b.WriteString("\nTargets of issue 7 (medians above):\n")
		for _, t := range targets(med) {
			fmt.Fprintf(&b, "  %-7s %s\n", t.verdict, t.text)
		}
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// checkCell sums up -check for the table: how many of the messages
// acknowledged with 250 came back byte-exact, rewritten, or not at all.
func checkCell(c *CheckResult) string {
	if c == nil {
		return "—"
	}
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{{c.Exact, "byte-exact"}, {c.Rewritten, "rewritten"}, {c.Missing, "MISSING"}, {c.Duplicated, "DUPLICATED"}, {c.Mismatched, "MISMATCHED"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	return fmt.Sprintf("%s of %d", strings.Join(parts, ", "), c.Checked)
}

// attachOverheadMB is what "peak memory no more than the stored bytes plus a
// small constant" is judged against; the issue leaves the constant open.
const attachOverheadMB = 32

type target struct{ verdict, text string }

func targets(med map[string]map[string]float64) []target {
	get := func(sink, name string) (float64, bool) {
		v, ok := med[sink][name]
		return v, ok
	}
	var out []target
	ratio := func(text, name, peer string, limit float64, lowerIsBetter bool) {
		v, ok1 := get("mailsink", name)
		pv, ok2 := get(peer, name)
		if !ok1 || !ok2 || pv <= 0 {
			out = append(out, target{"n/a", text + " (no figure)"})
			return
		}
		r := v / pv
		met := r >= limit
		if lowerIsBetter {
			met = r <= limit
		}
		out = append(out, target{verdict(met), fmt.Sprintf("%s: %.2f×", text, r)})
	}
	const cpu = "sink CPU per message, fill / µs"
	ratio("CPU per message ≤ 0.5× Inbucket's", cpu, "inbucket", 0.5, true)
	ratio("CPU per message ≤ 1.5× go-smtp discard's", cpu, "discard", 1.5, true)
	ratio("msgs/s at 16 connections ≥ 1.3× Inbucket's", "msgs/s, 16 connections × 50 msgs", "inbucket", 1.3, false)
	if v, ok := get("mailsink", "… relative to the raw size"); ok {
		out = append(out, target{verdict(v <= 1.3), fmt.Sprintf("resident memory per stored message ≤ 1.3× raw: %.2f×", v)})
	}
	ws, ok1 := get("mailsink", "250 → WebSocket event p99 / ms")
	wake, ok2 := get("mailsink", "250 → visible in API p99 / ms")
	if sockets, ok3 := get("mailsink", "… open WebSockets (-ws)"); ok1 && ok2 && ok3 {
		out = append(out, target{verdict(ws <= 10 && wake <= 10 && sockets >= 100),
			fmt.Sprintf("250 → WebSocket event / → wait wake-up p99 ≤ 10 ms with 100 browsers: %.2f / %.2f ms with %.0f", ws, wake, sockets)})
	}
	ratio("1 MiB attachments MB/s ≥ 1.5× Inbucket's", "1 MiB attachments, 4 connections / MB/s", "inbucket", 1.5, false)
	if v, ok := get("mailsink", "… peak RSS − idle RSS − stored bytes / MB"); ok {
		out = append(out, target{verdict(v <= attachOverheadMB), fmt.Sprintf("attachments: peak RSS ≤ stored bytes + %d MB: + %.0f MB", attachOverheadMB, v)})
	}
	return out
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "MISSED"
}
