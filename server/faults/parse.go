package faults

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseRules reads rules from configuration: either a JSON array of Rule
// objects, or the compact form, rules separated by ";", each
// "STAGE,key=value,...", keys reply, drop, delay, port, sender, recipient,
// probability, times, id, and for stateful rules attempts, retry-after,
// sequence (steps separated by "|"), key, throttle=COUNT/WINDOW,
// throttle-bytes=BYTES/WINDOW and per. For example:
//
//	rcpt,recipient=*@bounce.test,reply=550 5.1.1 User unknown;connect,delay=2s
//	rcpt,reply=451 4.7.1 Greylisted,attempts=1,retry-after=30s
//	mail,reply=454 4.7.0 Throttling failure,throttle=10/1m,per=connection
//	data,key=message,sequence=550 5.1.1 No|451 4.3.0 Later|accept
func ParseRules(s string) ([]Rule, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var rules []Rule
	if strings.HasPrefix(s, "[") {
		if err := json.Unmarshal([]byte(s), &rules); err != nil {
			return nil, fmt.Errorf("fault rules as JSON: %w", err)
		}
	} else {
		for _, spec := range strings.Split(s, ";") {
			if strings.TrimSpace(spec) == "" {
				continue
			}
			r, err := parseCompact(spec)
			if err != nil {
				return nil, err
			}
			rules = append(rules, r)
		}
	}
	for i := range rules {
		if err := rules[i].Validate(); err != nil {
			return nil, fmt.Errorf("fault rule %d: %w", i+1, err)
		}
	}
	return rules, nil
}

func parseCompact(spec string) (Rule, error) {
	fields := strings.Split(spec, ",")
	r := Rule{Stage: Stage(strings.TrimSpace(fields[0]))}
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if !ok && k != "drop" {
			return Rule{}, fmt.Errorf("fault rule %q: %q is not key=value", spec, f)
		}
		var err error
		switch k {
		case "reply":
			r.Reply = v
		case "drop":
			r.Drop = v == "" || v == "true"
		case "delay":
			var d time.Duration
			d, err = time.ParseDuration(v)
			r.Delay = Duration(d)
		case "port":
			r.Port, err = strconv.Atoi(v)
		case "sender":
			r.Sender = v
		case "recipient":
			r.Recipient = v
		case "probability":
			r.Probability, err = strconv.ParseFloat(v, 64)
		case "times":
			r.Times, err = strconv.Atoi(v)
		case "id":
			r.ID = v
		case "attempts":
			r.Attempts, err = strconv.Atoi(v)
		case "retry-after", "retryafter":
			var d time.Duration
			d, err = time.ParseDuration(v)
			r.RetryAfter = Duration(d)
		case "sequence":
			r.Sequence = strings.Split(v, "|")
		case "key":
			r.Key = strings.ToLower(v)
		case "throttle", "throttle-bytes":
			th := r.Throttle
			if th == nil {
				th = &Throttle{}
				r.Throttle = th
			}
			n, w, ok := strings.Cut(v, "/")
			if !ok {
				err = fmt.Errorf("want COUNT/WINDOW, e.g. 10/1m")
				break
			}
			var d time.Duration
			if d, err = time.ParseDuration(w); err != nil {
				break
			}
			if th.Window != 0 && th.Window != Duration(d) {
				err = fmt.Errorf("throttle and throttle-bytes need the same window")
				break
			}
			th.Window = Duration(d)
			if k == "throttle" {
				th.Count, err = strconv.Atoi(n)
			} else {
				th.Bytes, err = strconv.ParseInt(n, 10, 64)
			}
		case "per":
			if r.Throttle == nil {
				r.Throttle = &Throttle{}
			}
			r.Throttle.Per = strings.ToLower(v)
		default:
			return Rule{}, fmt.Errorf("fault rule %q: unknown key %q", spec, k)
		}
		if err != nil {
			return Rule{}, fmt.Errorf("fault rule %q: %s=%q: %w", spec, k, v, err)
		}
	}
	return r, nil
}
