package storage

import "time"

// Summary is a message as it appears in lists and live events. Its field
// names are Mailpit's MessageSummary, so Mailpit clients read it unchanged;
// Envelope and Delivery are mailsink's additions.
type Summary struct {
	ID          string
	MessageID   string
	Read        bool
	From        *Address
	To          []Address
	Cc          []Address
	Bcc         []Address
	ReplyTo     []Address
	Subject     string
	Created     time.Time
	Username    string
	Tags        []string
	Size        int
	Attachments int
	Snippet     string
	Envelope    Envelope
	Delivery    Delivery
}

// Summary returns the message's list view. Address lists are never nil, so
// they encode as [] the way Mailpit's clients expect.
func (m *Message) Summary() Summary {
	h := m.Header
	d := m.Details()
	env := m.Envelope
	if env.To == nil {
		env.To = []string{}
	}
	return Summary{
		ID:          m.ID,
		MessageID:   h.MessageID,
		Read:        m.Read(),
		From:        h.From,
		To:          nonNil(h.To),
		Cc:          nonNil(h.Cc),
		Bcc:         bccOf(h.Bcc, m.Envelope, h),
		ReplyTo:     nonNil(h.ReplyTo),
		Subject:     h.Subject,
		Created:     m.received,
		Username:    m.delivery.AuthUser,
		Tags:        nonNilTags(m.Tags()),
		Size:        len(m.raw),
		Attachments: d.Attachments,
		Snippet:     d.Snippet,
		Envelope:    env,
		Delivery:    m.Delivery(),
	}
}

func nonNil(a []Address) []Address {
	if a == nil {
		return []Address{}
	}
	return a
}

// bccOf returns the Bcc header's addresses plus envelope recipients that no
// header names, as Mailpit does: that is where blind copies show.
func bccOf(bcc []Address, env Envelope, h HeaderSummary) []Address {
	out := append([]Address{}, bcc...)
	named := map[string]bool{}
	for _, list := range [][]Address{h.To, h.Cc, h.Bcc} {
		for _, a := range list {
			named[lower(a.Address)] = true
		}
	}
	for _, rcpt := range env.To {
		if !named[lower(rcpt)] {
			out = append(out, Address{Address: rcpt})
			named[lower(rcpt)] = true
		}
	}
	return out
}
