package server

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// verify checks that cert is valid for name when only caPEM is trusted.
func verify(t *testing.T, cert tls.Certificate, caPEM []byte, name string, now time.Time) {
	t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("trust PEM holds no certificate")
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	inter := x509.NewCertPool()
	for _, der := range cert.Certificate[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: name, CurrentTime: now}); err != nil {
		t.Errorf("%s: %v", name, err)
	}
}

func TestTLSDirKeepsOneCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls") // made by mailsink
	now := time.Now()
	cert1, ca1, made, err := dirCertificate(dir, "mailsink.localhost", now)
	if err != nil || !made {
		t.Fatalf("first start: made %v, %v", made, err)
	}
	for _, name := range []string{"localhost", "127.0.0.1", "::1", "mailsink.localhost"} {
		verify(t, cert1, ca1, name, now)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("directory %v, %v: want mode 0700", fi.Mode(), err)
	}
	for file, perm := range map[string]os.FileMode{caCertFile: 0o644, caKeyFile: 0o600, certFile: 0o644, keyFile: 0o600} {
		if fi, err := os.Stat(filepath.Join(dir, file)); err != nil || fi.Mode().Perm() != perm {
			t.Errorf("%s: %v, %v, want mode %v", file, fi.Mode(), err, perm)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Errorf("directory holds %d entries, want the 4 files (no temporary leftovers)", len(entries))
	}

	// A restart: the same CA and the same server certificate.
	cert2, ca2, made, err := dirCertificate(dir, "mailsink.localhost", now.Add(time.Hour))
	if err != nil || made || !bytes.Equal(ca1, ca2) || !bytes.Equal(cert1.Certificate[0], cert2.Certificate[0]) {
		t.Fatalf("restart: made %v, same CA %v, same certificate %v, %v", made, bytes.Equal(ca1, ca2), bytes.Equal(cert1.Certificate[0], cert2.Certificate[0]), err)
	}

	// A new host name, or a certificate near its end: a new server
	// certificate from the same CA, which clients already trust.
	for name, tc := range map[string]struct {
		host string
		at   time.Time
	}{
		"new hostname": {"mailsink", now},
		"near its end": {"mailsink", now.Add(leafLifetime - leafRenewal + time.Hour)},
	} {
		cert3, ca3, made, err := dirCertificate(dir, tc.host, tc.at)
		if err != nil || made || !bytes.Equal(ca1, ca3) {
			t.Fatalf("%s: made %v, same CA %v, %v", name, made, bytes.Equal(ca1, ca3), err)
		}
		if bytes.Equal(cert3.Certificate[0], cert2.Certificate[0]) {
			t.Errorf("%s: the server certificate was not renewed", name)
		}
		verify(t, cert3, ca1, tc.host, tc.at)
		cert2 = cert3
	}
}

func TestTLSDirRefusesHalfACA(t *testing.T) {
	dir := t.TempDir()
	if _, _, _, err := dirCertificate(dir, "mailsink.localhost", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, caKeyFile)); err != nil {
		t.Fatal(err)
	}
	_, _, _, err := dirCertificate(dir, "mailsink.localhost", time.Now())
	if err == nil || !strings.Contains(err.Error(), "must both exist") {
		t.Fatalf("err = %v, want a refusal to replace the CA", err)
	}
}

func TestTLSDirAndCertAreExclusive(t *testing.T) {
	c := DefaultConfig()
	c.TLSDir, c.TLSCert, c.TLSKey = "/tmp/x", "a.pem", "b.pem"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "MAILSINK_TLS_DIR") {
		t.Fatalf("Validate = %v", err)
	}
}
