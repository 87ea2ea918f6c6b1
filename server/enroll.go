package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/zapgate/zapgate/enroll"
)

// adminTLSAndEnroll sets the admin listener's certificate when configured
// and, with enroll.enabled, mounts the enrollment endpoints on it.
func (s *Server) adminTLSAndEnroll() error {
	a := s.cfg.Admin
	if a.TLSCertFile != "" {
		if err := s.admin.SetTLS(a.TLSCertFile, a.TLSKeyFile); err != nil {
			return err
		}
	}
	e := s.cfg.Enroll
	if !e.Enabled {
		return nil
	}
	if a.TLSCertFile == "" || s.keys == nil {
		return fmt.Errorf("server: enroll.enabled needs admin.tls_cert_file/tls_key_file and keys.source registry")
	}
	client, err := issuerClient(e.CAFile)
	if err != nil {
		return err
	}
	svc, err := enroll.New(s.budget.enrollOptions(enroll.Options{
		Issuer: e.Issuer, ClientID: e.ClientID, Scopes: e.Scopes,
		PrincipalClaim: e.PrincipalClaim, GroupsClaim: e.GroupsClaim, GroupsPrefix: e.GroupsPrefix,
		GroupsFromDirectory: e.GroupsFrom == "directory",
		StateDir:            e.StateDir, PendingTTL: e.PendingTTL, HTTPClient: client,
		Registry: s.cfg.Keys.Registry, Directory: s.dir, Policy: s.policy, Audit: s.audit, Logger: s.log,
	}))
	if err != nil {
		return err
	}
	h := svc.Handler()
	s.admin.Mount("/v1/enroll", h)
	s.admin.Mount("/v1/enroll/", h)
	return nil
}

// issuerClient is the HTTP client for the OpenID provider: system roots
// plus the PEM certificates of caFile, when given.
func issuerClient(caFile string) (*http.Client, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	if caFile == "" {
		return c, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("server: enroll.ca_file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("server: enroll.ca_file %s: no PEM certificate found", caFile)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	c.Transport = t
	return c, nil
}
