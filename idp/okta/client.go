package okta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zapgate/zapgate/idp"
)

// maxBody bounds the size of one response body.
const maxBody = 8 << 20

// max429Retries is how many times one request is retried after a 429.
const max429Retries = 2

// minRateLimitWait is the pause after a 429 whose reset time has already
// passed by Okta's clock (the header has one-second resolution).
const minRateLimitWait = 250 * time.Millisecond

// defaultRateLimitWait is the pause after a 429 without rate-limit headers
// (or with an implausible reset).
const defaultRateLimitWait = time.Second

// maxPlausibleReset bounds how far ahead X-Rate-Limit-Reset may be; Okta's
// windows are one minute long.
const maxPlausibleReset = 10 * time.Minute

// client sends API requests with the concurrency cap, the rate-limit rules
// and the error classification described in the package documentation.
type client struct {
	base    *url.URL
	http    *http.Client
	auth    authorizer
	bearer  bool // OAuth: a 401 drops the cached token and retries once
	timeout time.Duration
	maxWait time.Duration
	sem     chan struct{}
	now     func() time.Time

	mu     sync.Mutex
	paused map[string]time.Time // bucket → when its rate-limit window resets
}

// response is a successful API answer.
type response struct {
	body   []byte
	header http.Header
}

// get sends GET rawURL (an absolute URL under the org) and returns the
// 200 answer. bucket names the rate-limit bucket (Okta limits each
// endpoint separately). A 404 carrying Okta's "not found" error
// (errorCode E0000007) returns an error wrapping idp.ErrNotFound; every
// other failure, a 404 without that body included (a proxy's or load
// balancer's page is not Okta's answer), wraps idp.ErrUnavailable.
//
// A request slot (Config.MaxConcurrent) is held only while a request is
// in flight, never while waiting for a rate-limit window.
func (c *client) get(ctx context.Context, bucket, rawURL string) (*response, error) {
	what := "GET " + redactQuery(rawURL)
	reauthed := false
	for retries := 0; ; {
		if err := c.waitWindow(ctx, bucket); err != nil {
			return nil, unavailable(fmt.Errorf("okta: %s: %w", what, err))
		}
		resp, gen, err := c.exchange(ctx, what, rawURL)
		if err != nil {
			return nil, unavailable(err)
		}
		wait := c.observe(bucket, resp)
		switch code := resp.code; {
		case code == http.StatusOK:
			return &response{body: resp.body, header: resp.header}, nil
		case code == http.StatusNotFound && oktaErrorCode(resp.body) == errorCodeNotFound:
			return nil, fmt.Errorf("okta: %s: not found (%s): %w", what, oktaError(resp.body), idp.ErrNotFound)
		case code == http.StatusNotFound:
			return nil, unavailable(fmt.Errorf("okta: %s: 404 without Okta's not-found error (%s): not an answer from Okta's API", what, oktaError(resp.body)))
		case code == http.StatusTooManyRequests && retries < max429Retries:
			retries++
			if err := c.sleep(ctx, wait); err != nil {
				return nil, unavailable(fmt.Errorf("okta: %s: rate limited (429): %w", what, err))
			}
		case code == http.StatusTooManyRequests:
			return nil, unavailable(fmt.Errorf("okta: %s: still rate limited (429) after %d retries", what, retries))
		case code == http.StatusUnauthorized && c.bearer && !reauthed:
			reauthed = true
			c.auth.invalidate(gen)
		case code == http.StatusUnauthorized || code == http.StatusForbidden:
			hint := "check the service app's granted scopes (okta.users.read, okta.groups.read) and its admin role (Read-only Administrator)"
			if !c.bearer {
				hint = "check the API token (revoked, expired, or its administrator lacks a read role)"
			}
			return nil, fmt.Errorf("okta: %s: %d %s (%s): %s: %w: %w", what, code, http.StatusText(code), oktaError(resp.body), hint, ErrAuth, idp.ErrUnavailable)
		default:
			return nil, unavailable(fmt.Errorf("okta: %s: unexpected status %d %s (%s)", what, code, http.StatusText(code), oktaError(resp.body)))
		}
	}
}

// errorCodeNotFound is Okta's errorCode for "Not found: Resource not
// found" (a 404 for an unknown user).
const errorCodeNotFound = "E0000007"

// exchange takes a request slot, the Authorization header (bounded by
// ctx) and sends one request; the slot is released when it returns. gen
// identifies the access token used, for invalidate.
func (c *client) exchange(ctx context.Context, what, rawURL string) (*rawResponse, uint64, error) {
	if err := c.acquire(ctx); err != nil {
		return nil, 0, fmt.Errorf("okta: %s: waiting for a request slot: %w", what, err)
	}
	defer func() { <-c.sem }()
	authz, gen, err := c.auth.header(ctx)
	if err != nil {
		return nil, 0, err
	}
	resp, err := c.once(ctx, rawURL, authz)
	if err != nil {
		return nil, 0, fmt.Errorf("okta: %s: %w", what, err)
	}
	return resp, gen, nil
}

// rawResponse is one HTTP exchange's outcome.
type rawResponse struct {
	code   int
	header http.Header
	body   []byte
	date   time.Time // the Date header, zero when absent
}

// once sends one request bounded by the per-request timeout.
func (c *client) once(ctx context.Context, rawURL, authz string) (*rawResponse, error) {
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", authz)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "zapgate")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, scrub(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the body: %w", scrub(err))
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("response body larger than %d bytes", maxBody)
	}
	out := &rawResponse{code: resp.StatusCode, header: resp.Header, body: body}
	if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		out.date = d
	}
	return out, nil
}

// scrub removes the URL from a *url.Error (it carries no secret, but keeps
// messages short: the caller names the request).
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// acquire takes a request slot (Config.MaxConcurrent).
func (c *client) acquire(ctx context.Context) error {
	select {
	case c.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// observe records the rate-limit headers of resp for bucket and returns
// how long to wait before the bucket's window resets (used after a 429).
// When X-Rate-Limit-Remaining is 0, later requests in the bucket wait for
// the reset (bounded, see waitWindow).
func (c *client) observe(bucket string, resp *rawResponse) time.Duration {
	wait := defaultRateLimitWait
	reset, err := strconv.ParseInt(strings.TrimSpace(resp.header.Get("X-Rate-Limit-Reset")), 10, 64)
	if err == nil && reset > 0 {
		// Measure against Okta's own clock (the Date header) so that
		// clock skew does not matter; both have one-second resolution.
		ref := resp.date
		if ref.IsZero() {
			ref = c.now()
		}
		wait = time.Unix(reset, 0).Sub(ref)
		switch {
		case wait <= 0:
			wait = minRateLimitWait
		case wait > maxPlausibleReset:
			// Not Okta's epoch seconds (milliseconds, a proxy's
			// value): it must not stop the endpoint for years.
			wait = defaultRateLimitWait
		}
	}
	remaining := strings.TrimSpace(resp.header.Get("X-Rate-Limit-Remaining"))
	if remaining == "0" || resp.code == http.StatusTooManyRequests {
		until := c.now().Add(wait)
		c.mu.Lock()
		if until.After(c.paused[bucket]) {
			c.paused[bucket] = until
		}
		c.mu.Unlock()
	}
	return wait
}

// waitWindow waits until bucket's rate-limit window has reset, if it is
// exhausted.
func (c *client) waitWindow(ctx context.Context, bucket string) error {
	c.mu.Lock()
	until := c.paused[bucket]
	c.mu.Unlock()
	d := until.Sub(c.now())
	if d <= 0 {
		return nil
	}
	if err := c.sleep(ctx, d); err != nil {
		return fmt.Errorf("rate-limit window exhausted: %w", err)
	}
	return nil
}

// sleep waits d unless that is longer than Config.MaxRateLimitWait or
// runs past ctx's deadline.
func (c *client) sleep(ctx context.Context, d time.Duration) error {
	if d > c.maxWait {
		return fmt.Errorf("the window resets in %s, longer than max_rate_limit_wait %s", d.Round(time.Millisecond), c.maxWait)
	}
	if dl, ok := ctx.Deadline(); ok && c.now().Add(d).After(dl) {
		return fmt.Errorf("the window resets in %s, after the lookup's deadline", d.Round(time.Millisecond))
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// unavailable wraps err with idp.ErrUnavailable unless it already is.
func unavailable(err error) error {
	if errors.Is(err, idp.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", err, idp.ErrUnavailable)
}

// oktaErrorCode returns the errorCode of an Okta error body, "" when the
// body is not one.
func oktaErrorCode(body []byte) string {
	var e struct {
		Code string `json:"errorCode"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Code
}

// oktaError summarises an Okta error body ({"errorCode","errorSummary"}).
func oktaError(body []byte) string {
	var e struct {
		Code    string `json:"errorCode"`
		Summary string `json:"errorSummary"`
	}
	if json.Unmarshal(body, &e) != nil || (e.Code == "" && e.Summary == "") {
		return "no Okta error body"
	}
	s := strings.TrimSpace(e.Code + " " + e.Summary)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// redactQuery returns the path and query of rawURL for messages (the
// query's "after" cursor is kept: it is not a secret).
func redactQuery(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	return u.RequestURI()
}

// pages calls fn with the body of every page of a list endpoint, starting
// at first and following Link rel="next", which must stay on the org and
// on exactly the endpoint's path. At most maxPages pages are read. A page
// whose body is not a JSON array (null, an object, HTML) is an unexpected
// body (idp.ErrUnavailable): "null" must not read as "no items". A 404
// with Okta's not-found error is returned as get returns it; the caller
// decides what it means for a list.
func (c *client) pages(ctx context.Context, bucket, first, prefix string, fn func([]byte) error) error {
	seen := map[string]bool{}
	next := first
	for page := 0; next != ""; page++ {
		if page == maxPages {
			return unavailable(fmt.Errorf("okta: GET %s: more than %d pages", redactQuery(first), maxPages))
		}
		if seen[next] {
			return unavailable(fmt.Errorf("okta: GET %s: the next link repeats %s", redactQuery(first), redactQuery(next)))
		}
		seen[next] = true
		resp, err := c.get(ctx, bucket, next)
		if err != nil {
			return err
		}
		if !isJSONArray(resp.body) {
			return unavailable(fmt.Errorf("okta: GET %s: unexpected body: not a JSON array (%s)", redactQuery(next), oktaError(resp.body)))
		}
		if err := fn(resp.body); err != nil {
			return unavailable(fmt.Errorf("okta: GET %s: unexpected body: %w", redactQuery(next), err))
		}
		link := parseLink(resp.header.Values("Link"), "next")
		if link == "" {
			return nil
		}
		if next, err = c.sameOrg(link, prefix); err != nil {
			return unavailable(fmt.Errorf("okta: GET %s: %w", redactQuery(first), err))
		}
	}
	return nil
}

// isJSONArray reports whether body is a JSON array (leading white space
// allowed); it does not validate the rest.
func isJSONArray(body []byte) bool {
	b := bytes.TrimLeft(body, " \t\r\n")
	return len(b) > 0 && b[0] == '['
}

// maxPages bounds pagination (200 items a page).
const maxPages = 1000

// sameOrg resolves a next link and refuses one that leaves the org or the
// endpoint: the bearer token must never be sent elsewhere, and a page of
// another resource must never be read as this one's.
func (c *client) sameOrg(link, prefix string) (string, error) {
	u, err := c.base.Parse(link)
	if err != nil {
		return "", fmt.Errorf("next link %q: %w", link, err)
	}
	// The next page is the same endpoint with another cursor: the path
	// must be exactly the endpoint's (no "/../" or sub-resource).
	if u.Scheme != c.base.Scheme || u.Host != c.base.Host || u.EscapedPath() != prefix || u.User != nil || u.Fragment != "" {
		return "", fmt.Errorf("refusing next link %q: not %s%s", link, c.base, prefix)
	}
	return u.String(), nil
}
