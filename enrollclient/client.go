package enrollclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/zapgate/zapgate/enroll/wire"
)

// maxResponse bounds how much of a broker response is read.
const maxResponse = 1 << 20

// Client talks to a broker's enrollment endpoint over HTTPS.
type Client struct {
	base *url.URL
	http *http.Client
}

// Options configure a Client.
type Options struct {
	// CAFile is a PEM file of certificate authorities that replaces the
	// system roots when verifying the broker's TLS certificate (for a
	// broker whose certificate a private CA signed). Empty: system roots.
	CAFile string
	// Timeout bounds each HTTP request to the broker (default 30s).
	Timeout time.Duration
}

// New returns a Client for the broker at broker, an https URL of the
// broker's admin listener ("https://broker.example.com:9443"). Plain http is
// refused: the ID token is a bearer credential.
func New(broker string, opts Options) (*Client, error) {
	u, err := url.Parse(broker)
	if err != nil {
		return nil, fmt.Errorf("enroll: --broker %q: %w", broker, err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("enroll: --broker %q: want https://HOST:PORT (the broker's admin listener; the ID token is never sent in the clear)", broker)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("enroll: --broker %q: want https://HOST:PORT without user, query or fragment", broker)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if opts.CAFile != "" {
		pem, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("enroll: --ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("enroll: --ca-file %s: no PEM certificate in it", opts.CAFile)
		}
		tlsConf.RootCAs = pool
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConf
	// The broker's API never redirects; following one would send the ID
	// token in the body again, to wherever the redirect points.
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{base: u, http: &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: noRedirect}}, nil
}

// ProviderConfig is the broker's answer to GET /v1/enroll/config: where and
// as which client a person signs in.
type ProviderConfig = wire.ClientConfig

// Result is the broker's answer to an accepted enrollment or approval:
// status bound, pending (a further approval is required) or already-bound.
type Result = wire.Result

// Error is a refusal or failure reported by the broker.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Code is the broker's machine-readable error code (forbidden,
	// key-bound, token-replayed, ...); empty when the body was not a
	// broker error object.
	Code string
	// Message is the broker's explanation, or an excerpt of an unexpected
	// body.
	Message string
}

// Error returns "broker refused: CODE: MESSAGE (HTTP STATUS)".
func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("enroll: broker answered HTTP %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("broker refused: %s: %s (HTTP %d)", e.Code, e.Message, e.Status)
}

// Config fetches GET /v1/enroll/config and checks that it names an issuer
// and a client.
func (c *Client) Config(ctx context.Context) (ProviderConfig, error) {
	var pc ProviderConfig
	if _, err := c.do(ctx, http.MethodGet, "/v1/enroll/config", nil, &pc); err != nil {
		return ProviderConfig{}, err
	}
	if pc.Issuer == "" || pc.ClientID == "" {
		return ProviderConfig{}, fmt.Errorf("enroll: broker's /v1/enroll/config names no issuer or client_id (is enrollment enabled in its config?)")
	}
	if u, err := url.Parse(pc.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ProviderConfig{}, fmt.Errorf("enroll: broker's issuer %q is not an http(s) URL", printable(pc.Issuer))
	}
	if err := providerURL(pc.Issuer, pc.Issuer); err != nil {
		return ProviderConfig{}, fmt.Errorf("enroll: broker's issuer %q: %w", printable(pc.Issuer), err)
	}
	if len(pc.Scopes) == 0 {
		pc.Scopes = []string{"openid", "email", "profile"}
	}
	return pc, nil
}

// EnrollRequest asks the broker to bind a key to a principal; it must
// carry a challenge (Client.Challenge) and its proof (Proof).
type EnrollRequest = wire.EnrollRequest

// Enroll posts req, which must carry a challenge and its proof (see
// EnrollKey, which does it all), to /v1/enroll and returns the binding (status bound or
// pending) or the broker's refusal as an *Error.
func (c *Client) Enroll(ctx context.Context, req EnrollRequest) (Result, error) {
	var r Result
	_, err := c.do(ctx, http.MethodPost, "/v1/enroll", req, &r)
	return printableResult(r), err
}

// printableResult returns r with every string made safe to print.
func printableResult(r Result) Result {
	r.Status, r.Principal, r.Fingerprint = printable(r.Status), printable(r.Principal), printable(r.Fingerprint)
	if r.ApprovedBy != nil {
		by := make([]string, len(r.ApprovedBy))
		for i, a := range r.ApprovedBy {
			by[i] = printable(a)
		}
		r.ApprovedBy = by
	}
	return r
}

// Approve posts a further approval of the pending binding of the key with
// this fingerprint to /v1/enroll/approve.
func (c *Client) Approve(ctx context.Context, fingerprint, idToken string) (Result, error) {
	var r Result
	_, err := c.do(ctx, http.MethodPost, "/v1/enroll/approve", wire.ApproveRequest{Fingerprint: fingerprint, IDToken: idToken}, &r)
	return printableResult(r), err
}

// do sends one request and decodes a 2xx JSON answer into out; any other
// answer becomes an *Error.
func (c *Client) do(ctx context.Context, method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	u := *c.base
	u.Path += path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var uerr x509.UnknownAuthorityError
		if errors.As(err, &uerr) {
			return 0, fmt.Errorf("enroll: %s %s: %w (pass the broker's CA with --ca-file)", method, u.Redacted(), err)
		}
		return 0, fmt.Errorf("enroll: %s %s: %w", method, u.Redacted(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("enroll: %s %s: reading the answer: %w", method, u.Redacted(), err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, brokerError(resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return resp.StatusCode, fmt.Errorf("enroll: %s %s: HTTP %d with a body that is not the expected JSON: %w", method, u.Redacted(), resp.StatusCode, err)
	}
	return resp.StatusCode, nil
}

// brokerError turns a non-2xx answer into an *Error: the broker's
// {"error","message"} object when the body is one, else an excerpt.
func brokerError(status int, data []byte) *Error {
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return &Error{Status: status, Code: printable(e.Error), Message: printable(e.Message)}
	}
	msg := printable(strings.TrimSpace(string(data)))
	if msg == "" {
		msg = http.StatusText(status)
	}
	if status == http.StatusNotFound {
		msg += " (does this broker have enrollment enabled? it needs enroll.enabled: true)"
	}
	return &Error{Status: status, Message: msg}
}

// printable replaces control characters, invalid UTF-8 and the
// characters that reorder or break lines (a hostile answer could carry
// terminal escapes or disguise itself) with '?' and bounds the length,
// cutting between characters.
func printable(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError ||
			r == 0x2028 || r == 0x2029 || unicode.Is(unicode.Bidi_Control, r) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if len(s) > 500 {
		cut := 500
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// providerURL checks a URL of the OpenID provider: https, or plain http
// only for a loopback host while the issuer is one too (tests). The
// device code and the ID token must not cross a network in the clear.
func providerURL(issuer, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("not an absolute URL")
	}
	if u.Scheme == "https" {
		return nil
	}
	iu, err := url.Parse(issuer)
	if u.Scheme == "http" && err == nil && loopback(u.Hostname()) && loopback(iu.Hostname()) {
		return nil
	}
	return errors.New("must use https (http is accepted for a loopback host only)")
}

// loopback reports whether host is localhost or a loopback address.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// IsCode reports whether err is a broker refusal with this code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
