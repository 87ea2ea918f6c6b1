// Package syslogtest helps test syslog forwarding: a throwaway PKI for
// RFC 5425 (a CA, a server certificate for 127.0.0.1 and localhost, a
// client certificate) and an in-process receiver that parses
// octet-counted frames over TCP or TLS. Everything listens on 127.0.0.1.
package syslogtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// PKI names the PEM files WritePKI created.
type PKI struct {
	// CA is the CA certificate.
	CA string
	// ServerCert and ServerKey are for 127.0.0.1 and localhost.
	ServerCert, ServerKey string
	// ClientCert and ClientKey are a client certificate (CN zapgate).
	ClientCert, ClientKey string
	// OtherCA is an unrelated CA, for negative tests.
	OtherCA string
}

// WritePKI creates the CA and certificates (ECDSA P-256, valid for a day)
// in dir, keys with mode 0600.
func WritePKI(dir string) (PKI, error) {
	p := PKI{
		CA: filepath.Join(dir, "ca.pem"), ServerCert: filepath.Join(dir, "server.pem"), ServerKey: filepath.Join(dir, "server.key"),
		ClientCert: filepath.Join(dir, "client.pem"), ClientKey: filepath.Join(dir, "client.key"), OtherCA: filepath.Join(dir, "other-ca.pem"),
	}
	ca, caKey, err := newCert(nil, nil, "zapgate test CA", true)
	if err != nil {
		return p, err
	}
	other, _, err := newCert(nil, nil, "unrelated CA", true)
	if err != nil {
		return p, err
	}
	srv, srvKey, err := newCert(ca, caKey, "127.0.0.1", false)
	if err != nil {
		return p, err
	}
	cli, cliKey, err := newCert(ca, caKey, "zapgate", false)
	if err != nil {
		return p, err
	}
	srvDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		return p, fmt.Errorf("syslogtest: %w", err)
	}
	cliDER, err := x509.MarshalECPrivateKey(cliKey)
	if err != nil {
		return p, fmt.Errorf("syslogtest: %w", err)
	}
	for _, f := range []struct {
		path string
		der  []byte
		typ  string
		mode os.FileMode
	}{
		{p.CA, ca.Raw, "CERTIFICATE", 0o644}, {p.OtherCA, other.Raw, "CERTIFICATE", 0o644},
		{p.ServerCert, srv.Raw, "CERTIFICATE", 0o644}, {p.ServerKey, srvDER, "EC PRIVATE KEY", 0o600},
		{p.ClientCert, cli.Raw, "CERTIFICATE", 0o644}, {p.ClientKey, cliDER, "EC PRIVATE KEY", 0o600},
	} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), f.mode); err != nil {
			return p, fmt.Errorf("syslogtest: %w", err)
		}
	}
	return p, nil
}

// newCert makes a certificate signed by parent (self-signed when nil) and
// returns it with its key.
func newCert(parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("syslogtest: %w", err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, nil, fmt.Errorf("syslogtest: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = nil
	} else {
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		return nil, nil, fmt.Errorf("syslogtest: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("syslogtest: %w", err)
	}
	return cert, key, nil
}
