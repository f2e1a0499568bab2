package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// userHZ is the unit of utime and stime in /proc/PID/stat: USER_HZ, which
// is 100 on every Linux architecture Go supports.
const userHZ = 100

// procSample is a sink process's CPU time and memory at one moment (Linux).
type procSample struct {
	cpuTicks int64 // utime + stime
	rssKB    int64 // VmRSS
	hwmKB    int64 // VmHWM: the peak RSS since the process started
}

func readProc(pid int) (procSample, error) {
	var s procSample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("reading sink process stats: %w", err)
	}
	// The command name (field 2) may hold spaces; fields after it are fixed.
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return s, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(string(stat[end+1:]))
	if len(fields) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	for _, f := range fields[11:13] { // utime, stime: fields 14 and 15 of the line
		t, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return s, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		s.cpuTicks += t
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("reading sink process status: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		name, val, _ := strings.Cut(sc.Text(), ":")
		var dst *int64
		switch name {
		case "VmRSS":
			dst = &s.rssKB
		case "VmHWM":
			dst = &s.hwmKB
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return s, fmt.Errorf("/proc/%d/status %s: %w", pid, name, err)
		}
		*dst = kb
	}
	return s, nil
}

// SinkStats is what the sink process spent on a run, read from /proc.
type SinkStats struct {
	PID             int     `json:"pid"`
	CPUMillis       float64 `json:"cpu_ms"` // utime+stime during the run (10 ms resolution)
	CPUMicrosPerMsg float64 `json:"cpu_us_per_msg"`
	RSSBeforeKB     int64   `json:"rss_before_kb"`
	RSSAfterKB      int64   `json:"rss_after_kb"`
	PeakRSSKB       int64   `json:"peak_rss_kb"` // VmHWM after the run: the process's peak so far
	// (after - before) / accepted: resident memory per stored message, when
	// the sink held nothing before the run and evicts nothing during it.
	RSSGrowthPerMsg float64 `json:"rss_growth_per_msg_bytes"`
}

func sinkStats(pid int, before, after procSample, accepted int) *SinkStats {
	k := &SinkStats{
		PID:         pid,
		CPUMillis:   float64(after.cpuTicks-before.cpuTicks) * 1000 / userHZ,
		RSSBeforeKB: before.rssKB,
		RSSAfterKB:  after.rssKB,
		PeakRSSKB:   after.hwmKB,
	}
	if accepted > 0 {
		k.CPUMicrosPerMsg = k.CPUMillis * 1000 / float64(accepted)
		k.RSSGrowthPerMsg = float64(after.rssKB-before.rssKB) * 1024 / float64(accepted)
	}
	return k
}
