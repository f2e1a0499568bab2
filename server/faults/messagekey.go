package faults

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
)

// MessageKey names a message across retries, for rules keyed by message:
// its Message-ID, or when it has none a hash of its content (a client that
// retries sends the same bytes).
func MessageKey(raw []byte) string {
	if id := messageID(raw); id != "" {
		return "<" + id + ">"
	}
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:12])
}

// messageID is the Message-ID header's value without its angle brackets
// and folding, "" if the header section has none.
func messageID(raw []byte) string {
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, '\n')
		line := raw
		if i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			return "" // the end of the header section
		}
		const name = "message-id:"
		if len(line) < len(name) || !bytes.EqualFold(line[:len(name)], []byte(name)) {
			continue
		}
		v := append([]byte(nil), line[len(name):]...)
		for len(raw) > 0 && (raw[0] == ' ' || raw[0] == '\t') { // folded
			j := bytes.IndexByte(raw, '\n')
			if j < 0 {
				j = len(raw) - 1
			}
			v = append(v, bytes.TrimRight(raw[:j+1], "\r\n")...)
			raw = raw[j+1:]
		}
		v = bytes.TrimSpace(v)
		v = bytes.TrimSuffix(bytes.TrimPrefix(v, []byte("<")), []byte(">"))
		return string(bytes.TrimSpace(v))
	}
	return ""
}
