package storage

import "sync/atomic"

// DKIMResult is the check of one DKIM-Signature of a message.
type DKIMResult struct {
	Domain     string // the signing domain (d=)
	Identifier string // the agent or user identifier (i=)
	Result     string // "pass", "fail" or "temperror" (the key could not be fetched now)
	Reason     string // why it failed, e.g. "body hash did not verify"; "" on pass
}

// DKIMVerifier checks a raw message's DKIM signatures, one result per
// signature in header order (none: unsigned). The store calls it at most
// once per message, when a reader first asks, never while capturing.
type DKIMVerifier func(raw string) []DKIMResult

// SetDKIMVerifier sets how messages' signatures are checked; without one,
// every signature is unchecked and DKIM answers nil.
func (s *Store) SetDKIMVerifier(v DKIMVerifier) { s.parsed.dkim.Store(&v) }

// dkimState is the store's verifier, beside its parse cache.
type dkimState struct{ atomic.Pointer[DKIMVerifier] }

// DKIM returns the message's signature checks, computing them on the
// first call (the result is kept with the message, unless a key could not
// be fetched: a temperror is checked again on the next call). nil: unsigned, or no
// verifier is set.
func (m *Message) DKIM() []DKIMResult {
	if r := m.dkim.Load(); r != nil {
		return *r
	}
	if m.cache == nil {
		return nil
	}
	v := m.cache.dkim.Load()
	if v == nil {
		return nil
	}
	res := (*v)(m.Raw())
	for _, r := range res {
		if r.Result == "temperror" { // a key that could not be fetched now: ask again next time
			return res
		}
	}
	m.dkim.CompareAndSwap(nil, &res) // two first readers: either result will do
	return *m.dkim.Load()
}

// dkimVerdict is what dkim: searches for: "pass" when a signature passes,
// "fail" when there are signatures and none passes, "none" unsigned.
func dkimVerdict(res []DKIMResult) string {
	if len(res) == 0 {
		return "none"
	}
	for _, r := range res {
		if r.Result == "pass" {
			return "pass"
		}
	}
	return "fail"
}
