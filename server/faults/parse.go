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
// probability, times, id. For example:
//
//	rcpt,recipient=*@bounce.test,reply=550 5.1.1 User unknown;connect,delay=2s
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
		default:
			return Rule{}, fmt.Errorf("fault rule %q: unknown key %q", spec, k)
		}
		if err != nil {
			return Rule{}, fmt.Errorf("fault rule %q: %s=%q: %w", spec, k, v, err)
		}
	}
	return r, nil
}
