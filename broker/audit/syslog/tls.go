package syslog

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
)

// TLSFiles names the files of an RFC 5425 client configuration.
type TLSFiles struct {
	// CAFile holds PEM CA certificates for the receiver ("": system roots).
	CAFile string
	// CertFile and KeyFile are an optional PEM client certificate and key.
	CertFile string
	// KeyFile must not be accessible by group or others.
	KeyFile string
	// ServerName is the name to verify ("": the host of the address).
	ServerName string
}

// maxPEM bounds a PEM file.
const maxPEM = 1 << 20

// TLSConfig builds the client TLS configuration for address: TLS 1.2 or
// later, the receiver's certificate verified against CAFile (or the system
// roots) for ServerName, and a client certificate when given. A key file
// that group or others may access is refused.
func TLSConfig(address string, files TLSFiles) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: files.ServerName}
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return nil, fmt.Errorf("syslog: address %q: %w", address, err)
		}
		cfg.ServerName = host
	}
	if files.CAFile != "" {
		pem, err := readPEM(files.CAFile, false)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("syslog: ca file %s: no PEM certificate", files.CAFile)
		}
		cfg.RootCAs = pool
	}
	if files.CertFile != "" || files.KeyFile != "" {
		certPEM, err := readPEM(files.CertFile, false)
		if err != nil {
			return nil, err
		}
		keyPEM, err := readPEM(files.KeyFile, true)
		if err != nil {
			return nil, err
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("syslog: client certificate %s / %s: %w", files.CertFile, files.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// readPEM reads a PEM file; secret files must have mode 0600 or narrower.
func readPEM(path string, secret bool) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("syslog: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("syslog: %w", err)
	}
	if secret && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("syslog: key file %s: mode %04o is accessible by group or others; run: chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPEM))
	if err != nil {
		return nil, fmt.Errorf("syslog: %s: %w", path, err)
	}
	return data, nil
}
