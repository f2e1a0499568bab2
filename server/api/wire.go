package api

import (
	"github.com/mailsink/mailsink/server/api/apitypes"
	"github.com/mailsink/mailsink/storage"
)

// The answers are apitypes' copies of storage's types, so that the Go
// client need not compile storage. Address, Envelope and Delivery
// convert directly, which fails to compile when their fields
// drift apart; Summary and Transcript hold converted lists, and
// TestWireTypesMirrorStorage compares their fields. Transcript adds the
// session's Verdict, computed from its lines.

func addressOf(a *storage.Address) *apitypes.Address {
	if a == nil {
		return nil
	}
	w := apitypes.Address(*a)
	return &w
}

// addresses keeps nil as nil and empty as empty: JSON tells null from [].
func addresses(list []storage.Address) []apitypes.Address {
	if list == nil {
		return nil
	}
	out := make([]apitypes.Address, len(list))
	for i, a := range list {
		out[i] = apitypes.Address(a)
	}
	return out
}

func summaryOf(s storage.Summary) apitypes.Summary {
	return apitypes.Summary{
		ID:          s.ID,
		MessageID:   s.MessageID,
		Read:        s.Read,
		From:        addressOf(s.From),
		To:          addresses(s.To),
		Cc:          addresses(s.Cc),
		Bcc:         addresses(s.Bcc),
		ReplyTo:     addresses(s.ReplyTo),
		Subject:     s.Subject,
		Created:     s.Created,
		Username:    s.Username,
		Tags:        s.Tags,
		Size:        s.Size,
		Attachments: s.Attachments,
		Snippet:     s.Snippet,
		Envelope:    apitypes.Envelope(s.Envelope),
		Delivery:    apitypes.Delivery(s.Delivery),
	}
}

// TranscriptOf is t as the API answers it, with its Verdict; without its
// lines unless withLines (a listing's summary, the inbox's live frame).
func TranscriptOf(t *storage.Transcript, withLines bool) *apitypes.Transcript {
	if t == nil {
		return nil
	}
	var lines []apitypes.TranscriptLine
	var v apitypes.Verdict
	if withLines {
		lines = make([]apitypes.TranscriptLine, len(t.Lines))
	}
	for i, l := range t.Lines {
		v.Add(l.Dir, l.Text)
		if withLines {
			lines[i] = apitypes.TranscriptLine{At: l.At, Dir: l.Dir, Text: l.Text, Error: apitypes.ErrorLine(l.Dir, l.Text)}
		}
	}
	return &apitypes.Transcript{
		ID:         t.ID,
		Started:    t.Started,
		Ended:      t.Ended,
		Active:     t.Active,
		Listener:   t.Listener,
		Port:       t.Port,
		ClientAddr: t.ClientAddr,
		Helo:       t.Helo,
		TLS:        t.TLS,
		TLSVersion: t.TLSVersion,
		TLSCipher:  t.TLSCipher,
		AuthUser:   t.AuthUser,
		MessageIDs: t.MessageIDs,
		Faults:     t.Faults,
		Lines:      lines,
		LineCount:  len(t.Lines),
		ErrorCount: v.ErrorCount,
		LastError:  v.LastError,
		Reason:     v.Reason,
		Explained:  v.Explained,
	}
}

// dkimOf is never nil: JSON says [] for an unsigned message.
func dkimOf(res []storage.DKIMResult) []apitypes.DKIMResult {
	out := make([]apitypes.DKIMResult, len(res))
	for i, r := range res {
		out[i] = apitypes.DKIMResult(r)
	}
	return out
}
