// Package smtpd owns the SMTP side of mailsink: the listeners, each with
// its TLS and AUTH policy, and the go-smtp sessions that build the
// envelope and delivery facts and hand every accepted message to the
// store. It never relays anything.
//
// go-smtp is the only SMTP state machine: it parses commands, runs
// STARTTLS and implicit TLS handshakes, reads DATA and BDAT, and writes
// every reply. mailsink's policy answers through go-smtp's hooks
// (NewSession, the Session methods, tls.Config.GetConfigForClient). Each
// connection has a go-smtp Server of its own, whose Debug writer records
// the connection's transcript; the socket beneath (observedConn) only
// notes which way bytes went and may close the connection. Nothing here
// writes or changes a byte on a connection go-smtp is serving.
//
// It imports storage and faults, never the HTTP side.
package smtpd
