package ldap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// ErrInvalidCredentials means a server rejected the service account's bind
// (LDAP result 49). Other servers are not tried: they share the account.
var ErrInvalidCredentials = errors.New("invalid credentials")

// ErrPlainRefused means a bind would have crossed an unencrypted connection
// and Config.InsecureNoTLS is not set.
var ErrPlainRefused = errors.New("refusing to bind over an unencrypted connection (use ldaps://, start_tls, or set insecure_no_tls)")

// pconn is one bound connection and the URL it reached.
type pconn struct {
	c        *goldap.Conn
	url      string
	lastUsed time.Time
	pooled   bool // taken from the pool rather than freshly dialled
}

// dialAny connects to the first URL that answers, in order. Each URL has
// its own budget: its attempt (dial, TLS, StartTLS, bind) is bounded by
// cfg.ConnectTimeout from when it starts, so a silent server does not eat
// the next server's time; ctx bounds them all only as far as its caller
// set a deadline.
func dialAny(ctx context.Context, cfg Config) (*pconn, error) {
	var errs []error
	for _, u := range cfg.URLs {
		pc, err := dialOne(ctx, cfg, u)
		if err == nil {
			return pc, nil
		}
		if errors.Is(err, ErrInvalidCredentials) || errors.Is(err, ErrPlainRefused) {
			return nil, err
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("ldap: no server reachable: %w", errors.Join(errs...))
}

// dialOne connects to and binds at one URL within cfg.ConnectTimeout (and
// ctx). The connection's operations are then each bounded by cfg.Timeout.
func dialOne(parent context.Context, cfg Config, raw string) (_ *pconn, err error) {
	ctx, cancel := context.WithTimeout(parent, cfg.ConnectTimeout)
	defer cancel()
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("ldap: %s: %w", raw, err)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"ldap": "389", "ldaps": "636"}[u.Scheme]
	}
	tc, err := cfg.tlsConfig(host)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("ldap: %s: %w", raw, err)
	}
	isTLS := u.Scheme == "ldaps"
	if isTLS {
		tlsConn := tls.Client(nc, tc)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("ldap: %s: tls handshake: %w", raw, err)
		}
		nc = tlsConn
	}
	lc := goldap.NewConn(nc, isTLS)
	lc.Start()
	lc.SetTimeout(cfg.ConnectTimeout)
	stop := context.AfterFunc(ctx, func() { lc.Close() })
	defer func() {
		if !stop() {
			err = fmt.Errorf("ldap: %s: not connected within connect_timeout %s: %w", raw, cfg.ConnectTimeout, ctx.Err())
		}
		if err != nil {
			lc.Close()
		}
	}()
	if !isTLS && cfg.StartTLS {
		if err := lc.StartTLS(tc); err != nil {
			return nil, fmt.Errorf("ldap: %s: starttls: %w", raw, err)
		}
	}
	if _, ok := lc.TLSConnectionState(); !ok && !cfg.InsecureNoTLS {
		return nil, fmt.Errorf("ldap: %s: %w", raw, ErrPlainRefused)
	}
	if cfg.BindDN != "" {
		if err := lc.Bind(cfg.BindDN, cfg.BindPassword); err != nil {
			if goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
				return nil, fmt.Errorf("ldap: bind as %q at %s: %w (%w)", cfg.BindDN, raw, ErrInvalidCredentials, err)
			}
			return nil, fmt.Errorf("ldap: bind as %q at %s: %w", cfg.BindDN, raw, err)
		}
	}
	lc.SetTimeout(cfg.Timeout)
	return &pconn{c: lc, url: raw, lastUsed: time.Now()}, nil
}

// reusable reports whether a connection may go back to the pool after an
// operation that returned err: only LDAP result codes the server sent
// (not network, timeout or client-side errors) leave it usable.
func reusable(pc *pconn, err error) bool {
	if pc.c.IsClosing() {
		return false
	}
	if err == nil {
		return true
	}
	var le *goldap.Error
	return errors.As(err, &le) && le.ResultCode < goldap.ErrorNetwork
}
