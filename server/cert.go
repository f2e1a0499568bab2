package server

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The files MAILSINK_TLS_DIR holds. The CA is made once and kept: trust
// ca.pem once and every later start is trusted, also after the server
// certificate is renewed.
const (
	caCertFile = "ca.pem"     // the CA certificate to trust (0644)
	caKeyFile  = "ca-key.pem" // its private key (0600)
	certFile   = "cert.pem"   // the server certificate the TLS ports present, signed by the CA (0644)
	keyFile    = "key.pem"    // its private key (0600)
)

const (
	caLifetime   = 10 * 365 * 24 * time.Hour
	leafLifetime = 397 * 24 * time.Hour // what browsers and Apple accept for a server certificate
	leafRenewal  = 30 * 24 * time.Hour  // a server certificate closer than this to its end is replaced
)

// certificate returns the TLS certificate, the PEM a client should trust,
// and a note for the banner: the configured pair; or a CA and server
// certificate kept in MAILSINK_TLS_DIR; or a self-signed one generated in
// memory.
func certificate(cfg Config) (cert tls.Certificate, trustPEM []byte, note string, err error) {
	switch {
	case cfg.TLSCert != "":
		certPEM, err := os.ReadFile(cfg.TLSCert)
		if err != nil {
			return tls.Certificate{}, nil, "", fmt.Errorf("reading MAILSINK_TLS_CERT: %w", err)
		}
		keyPEM, err := os.ReadFile(cfg.TLSKey)
		if err != nil {
			return tls.Certificate{}, nil, "", fmt.Errorf("reading MAILSINK_TLS_KEY: %w", err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return tls.Certificate{}, nil, "", fmt.Errorf("loading MAILSINK_TLS_CERT and MAILSINK_TLS_KEY: %w", err)
		}
		return cert, certPEM, " (" + cfg.TLSCert + ")", nil
	case cfg.TLSDir != "":
		cert, caPEM, made, err := dirCertificate(cfg.TLSDir, cfg.Hostname, time.Now())
		if err != nil {
			return tls.Certificate{}, nil, "", fmt.Errorf("MAILSINK_TLS_DIR: %w", err)
		}
		note := " (kept in " + filepath.Join(cfg.TLSDir, caCertFile) + ")"
		if made {
			note = " (made now, kept in " + filepath.Join(cfg.TLSDir, caCertFile) + " for later starts)"
		}
		return cert, caPEM, note, nil
	}
	cert, pemBytes, err := selfSigned(cfg.Hostname)
	return cert, pemBytes, " (made at start; MAILSINK_TLS_DIR keeps one)", err
}

// certNames are the names every generated certificate is valid for.
func certNames(hostname string) (dns []string, ips []net.IP) {
	dns = []string{"localhost"}
	ips = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if ip := net.ParseIP(hostname); ip != nil {
		ips = append(ips, ip)
	} else if hostname != "localhost" {
		dns = append(dns, hostname)
	}
	return dns, ips
}

func serial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return nil, fmt.Errorf("generating certificate serial: %w", err)
	}
	return n, nil
}

// selfSigned makes a certificate valid for localhost, the loopback
// addresses and hostname, for a year.
func selfSigned(hostname string) (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("generating TLS key: %w", err)
	}
	sn, err := serial()
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	dns, ips := certNames(hostname)
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: hostname, Organization: []string{"mailsink (self-signed, for testing)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // so clients can trust it directly as a root
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("creating self-signed certificate: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, certPEM, nil
}

// dirCertificate loads the CA and server certificate kept in dir, making
// what is missing: the CA once, the server certificate whenever it is
// missing, not signed by the CA, near its end or not valid for a name it
// must serve (MAILSINK_HOSTNAME changed). made reports a new CA.
func dirCertificate(dir, hostname string, now time.Time) (cert tls.Certificate, caPEM []byte, made bool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, nil, false, err
	}
	ca, caKey, caPEM, made, err := loadOrMakeCA(dir, now)
	if err != nil {
		return tls.Certificate{}, nil, false, err
	}
	certPath, keyPath := filepath.Join(dir, certFile), filepath.Join(dir, keyFile)
	if c, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && leafUsable(c, ca, hostname, now) {
		return tls.Certificate{Certificate: [][]byte{c.Certificate[0], ca.Raw}, PrivateKey: c.PrivateKey}, caPEM, made, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return tls.Certificate{}, nil, false, fmt.Errorf("%s and %s: %w (remove both to have new ones made)", certPath, keyPath, err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, false, fmt.Errorf("generating TLS key: %w", err)
	}
	sn, err := serial()
	if err != nil {
		return tls.Certificate{}, nil, false, err
	}
	dns, ips := certNames(hostname)
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: hostname, Organization: []string{"mailsink (for testing)"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(leafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, false, fmt.Errorf("creating the server certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, false, err
	}
	if err := writeAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return tls.Certificate{}, nil, false, err
	}
	if err := writeAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return tls.Certificate{}, nil, false, err
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Raw}, PrivateKey: key}, caPEM, made, nil
}

// loadOrMakeCA reads ca.pem and ca-key.pem, or makes both when neither
// exists. One without the other is an error: a new CA would silently undo
// the trust a user gave the old one.
func loadOrMakeCA(dir string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, []byte, bool, error) {
	certPath, keyPath := filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile)
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	switch {
	case certErr == nil && keyErr == nil:
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, nil, nil, false, fmt.Errorf("%s and %s: %w", certPath, keyPath, err)
		}
		ca, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			return nil, nil, nil, false, fmt.Errorf("%s: %w", certPath, err)
		}
		key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
		if !ok || !ca.IsCA {
			return nil, nil, nil, false, fmt.Errorf("%s is not a CA mailsink made (remove it and %s to have a new one made, then trust that)", certPath, keyPath)
		}
		return ca, key, certPEM, false, nil
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
	case certErr != nil && !errors.Is(certErr, fs.ErrNotExist):
		return nil, nil, nil, false, certErr
	case keyErr != nil && !errors.Is(keyErr, fs.ErrNotExist):
		return nil, nil, nil, false, keyErr
	default:
		return nil, nil, nil, false, fmt.Errorf("%s and %s must both exist or both be absent", certPath, keyPath)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, false, fmt.Errorf("generating the CA key: %w", err)
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, nil, false, err
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: "mailsink local CA " + sn.Text(16)[:8], Organization: []string{"mailsink (for testing)"}, OrganizationalUnit: []string{host}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true, // it signs server certificates, never another CA
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, false, fmt.Errorf("creating the CA: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, false, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, false, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	// The key first: a ca.pem without its key is the error above.
	if err := writeAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, nil, nil, false, err
	}
	if err := writeAtomic(certPath, certPEM, 0o644); err != nil {
		return nil, nil, nil, false, err
	}
	return ca, key, certPEM, true, nil
}

// leafUsable reports whether a kept server certificate can serve on.
func leafUsable(c tls.Certificate, ca *x509.Certificate, hostname string, now time.Time) bool {
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil || leaf.CheckSignatureFrom(ca) != nil || !bytes.Equal(leaf.RawIssuer, ca.RawSubject) {
		return false
	}
	if now.Before(leaf.NotBefore) || now.Add(leafRenewal).After(leaf.NotAfter) {
		return false
	}
	dns, ips := certNames(hostname)
	for _, d := range dns {
		if !slices.Contains(leaf.DNSNames, d) {
			return false
		}
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

// writeAtomic writes a file whole or not at all, with mode perm.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after the rename, there is nothing left to remove
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
