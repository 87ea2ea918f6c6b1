package enroll

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/zapgate/zapgate/enroll/wire"

	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/idp"
	"github.com/zapgate/zapgate/policy"
)

// MaxBodyBytes bounds a request body; larger bodies are refused (400).
const MaxBodyBytes = 64 << 10

// Decider decides policy actions (policy.Store and *policy.Policy do).
type Decider interface {
	Decide(subject policy.Subject, action policy.Action) policy.Decision
}

// Recorder makes an audit record durable (audit.Log does).
type Recorder interface {
	Append(ctx context.Context, rec audit.Record) (audit.Receipt, error)
}

// Options configure a Service. Issuer, ClientID, StateDir, Registry,
// Directory, Policy and Audit are required.
type Options struct {
	// Issuer is the OpenID provider's issuer URL.
	Issuer string
	// ClientID is the audience ID tokens must name.
	ClientID string
	// Scopes are announced by GET /v1/enroll/config.
	Scopes []string
	// PrincipalClaim names the person (default "email").
	PrincipalClaim string
	// GroupsClaim is the token's groups claim (default "groups").
	GroupsClaim string
	// GroupsPrefix is put before each token group name (e.g. "okta:").
	GroupsPrefix string
	// GroupsFromDirectory takes the person's groups from Directory, looked
	// up by the principal claim, instead of from the token.
	GroupsFromDirectory bool
	// StateDir keeps the used tokens and pending requests.
	StateDir string
	// PendingTTL is how long a request waits for approval (default 24h).
	PendingTTL time.Duration
	// HTTPClient fetches the provider's discovery document and keys
	// (default: a client with a 10s timeout).
	HTTPClient *http.Client
	// Registry is the key registry directory bindings are written to.
	Registry string
	// Directory checks the principal (and the person, with
	// GroupsFromDirectory).
	Directory idp.Directory
	// Policy decides the enroll action.
	Policy Decider
	// Audit records every decision.
	Audit Recorder
	// Limiter, when set, limits requests per source address: beyond it
	// the answer is 429 before the token verifier or the audit log is
	// touched.
	Limiter Limiter
	// Unauthenticated, when set, takes the records of refusals of requests
	// without valid credentials (no verified ID token) instead of Audit:
	// bounded per source and never waited for. Nil writes them through
	// Audit.
	Unauthenticated Budget
	// Logger logs technical failures (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Service serves the enrollment endpoints. It is safe for concurrent use.
type Service struct {
	opts  Options
	log   *slog.Logger
	store *store
	vf    *verifier
	chs   *challenges
	mu    sync.Mutex // serialises the check-and-commit of bindings
}

// New checks opts and opens the state directory.
func New(opts Options) (*Service, error) {
	switch {
	case opts.Issuer == "" || opts.ClientID == "":
		return nil, errors.New("enroll: issuer and client_id are required")
	case opts.StateDir == "":
		return nil, errors.New("enroll: a state directory is required")
	case opts.Registry == "":
		return nil, errors.New("enroll: a key registry directory is required (enrollment is not available with keys.source directory)")
	case opts.Directory == nil || opts.Policy == nil || opts.Audit == nil:
		return nil, errors.New("enroll: directory, policy and audit are required")
	}
	if opts.PrincipalClaim == "" {
		opts.PrincipalClaim = "email"
	}
	if opts.GroupsClaim == "" {
		opts.GroupsClaim = "groups"
	}
	if opts.PendingTTL <= 0 {
		opts.PendingTTL = 24 * time.Hour
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	// A copy: the caller's client is not changed. Redirects of discovery
	// or key fetches never leave https.
	hc := *opts.HTTPClient
	hc.CheckRedirect = noDowngrade
	opts.HTTPClient = &hc
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Scopes = append([]string(nil), opts.Scopes...)
	st, err := openStore(opts.StateDir, opts.Now)
	if err != nil {
		return nil, err
	}
	return &Service{
		opts:  opts,
		log:   opts.Logger.With("component", "enroll"),
		store: st,
		vf: &verifier{issuer: opts.Issuer, clientID: opts.ClientID, principalClaim: opts.PrincipalClaim,
			groupsClaim: opts.GroupsClaim, groupsPrefix: opts.GroupsPrefix, tokenGroups: !opts.GroupsFromDirectory,
			client: opts.HTTPClient, now: opts.Now},
		chs: newChallenges(MaxChallenges, ChallengeTTL, opts.Now),
	}, nil
}

// Handler returns the enrollment endpoints, to be mounted on the admin
// listener (HTTPS).
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/enroll/config", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, wire.ClientConfig{Issuer: s.opts.Issuer, ClientID: s.opts.ClientID, Scopes: s.opts.Scopes})
	})
	mux.HandleFunc("GET /v1/enroll/challenge", s.handleChallenge)
	mux.HandleFunc("POST /v1/enroll", s.handleEnroll)
	mux.HandleFunc("POST /v1/enroll/approve", s.handleApprove)
	mux.HandleFunc("GET /v1/enroll/pending", s.handlePending)
	return s.limit(mux)
}

// apiError is a refusal: its HTTP status, code and message. release
// frees the token again (the failure decided nothing).
type apiError struct {
	status  int
	code    string
	msg     string
	release bool
}

func refuse(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// outage is a refusal that decided nothing: the token may be used again.
func outage(code, format string, args ...any) *apiError {
	e := refuse(http.StatusServiceUnavailable, code, format, args...)
	e.release = true
	return e
}

// decodeBody reads one JSON object into v: at most MaxBodyBytes, no
// unknown fields, nothing after it.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) *apiError {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return refuse(http.StatusBadRequest, wire.CodeBadRequest, "the body is larger than %d bytes", MaxBodyBytes)
		}
		return refuse(http.StatusBadRequest, wire.CodeBadRequest, "the body is not the expected JSON object: %v", err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return refuse(http.StatusBadRequest, wire.CodeBadRequest, "the body holds more than one JSON value")
	}
	return nil
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// sourceOf returns the client's IP address.
func sourceOf(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr()
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}
