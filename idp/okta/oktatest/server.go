// Package oktatest is a contract fake of Okta's published management API,
// for tests. It is not Okta: it implements the parts zapgate uses, as
// Okta documents them, on an httptest TLS server on 127.0.0.1.
//
//   - POST /oauth2/v1/token: the client credentials grant with a
//     private_key_jwt client assertion, verified against a registered public
//     key (signature, iss = sub = client id, aud = the token URL, exp within
//     an hour, jti never reused) and granted scopes; it issues bearer tokens
//     that expire.
//   - GET /api/v1/users/{id, login or login short name} (a login with "/"
//     by id only, as Okta documents), GET /api/v1/users (list;
//     search=profile.ATTR eq "VALUE", compared case-insensitively as Okta
//     does, from an index that SetSearchStale can freeze; and
//     filter=profile.login eq "VALUE"), GET /api/v1/users/{id}/groups, with
//     limit/after pagination and Link rel="self"/"next" headers; errors in
//     Okta's JSON error format (errorCode, errorSummary).
//   - Bearer tokens (with the okta.users.read scope) and SSWS API tokens.
//   - X-Rate-Limit-Limit, -Remaining and -Reset on every answer, per
//     endpoint, with a 429 when a window is exhausted.
//
// Knobs inject 429 bursts, error statuses and slow answers; methods add
// users, set their status, groups and profile attributes; counters report
// requests per endpoint and the most requests seen in flight at once. All
// methods are safe for concurrent use with requests.
package oktatest

import (
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Endpoint names used by Count and the rate-limit buckets.
const (
	EndpointToken  = "token"  // POST /oauth2/v1/token
	EndpointUser   = "user"   // GET /api/v1/users/{id}
	EndpointGroups = "groups" // GET /api/v1/users/{id}/groups
	EndpointUsers  = "users"  // GET /api/v1/users (list and search)
)

// User is a user as the tests set it up.
type User struct {
	// ID is the Okta id; empty means a generated "00u…" id.
	ID string
	// Login is profile.login (required, unique, case-insensitively).
	Login string
	// Status is the Okta status; empty means ACTIVE.
	Status string
	// Profile holds further profile attributes (firstName, custom ones).
	Profile map[string]any
}

// Server is the contract server. Create it with New.
type Server struct {
	// URL is the org URL, https://127.0.0.1:PORT.
	URL string
	ts  *httptest.Server

	mu       sync.Mutex
	users    map[string]*User    // by id
	order    []string            // user ids in creation order
	groups   map[string]string   // group id → name
	members  map[string][]string // user id → group ids, in order
	clients  map[string]*client
	apiToks  map[string]bool
	tokens   map[string]token
	jtis     map[string]bool
	lifetime time.Duration
	pageSize int
	limit    int
	window   time.Duration
	buckets  map[string]*bucket
	fail429  int
	failCode int
	failN    int
	delay    time.Duration
	index    map[string]*User // the search index while stale, else nil
	counts   map[string]int
	inflight int
	maxIn    int
}

type client struct {
	key    crypto.PublicKey
	kid    string
	scopes map[string]bool
}

type token struct {
	expiry time.Time
	scopes map[string]bool
}

type bucket struct {
	start time.Time
	used  int
}

// New starts a contract server on 127.0.0.1 and stops it when tb ends.
func New(tb testing.TB) *Server {
	s := &Server{
		users: map[string]*User{}, groups: map[string]string{}, members: map[string][]string{},
		clients: map[string]*client{}, apiToks: map[string]bool{}, tokens: map[string]token{},
		jtis: map[string]bool{}, lifetime: time.Hour, pageSize: 200, limit: 600, window: time.Minute,
		buckets: map[string]*bucket{}, counts: map[string]int{},
	}
	s.ts = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	s.URL = s.ts.URL
	tb.Cleanup(s.ts.Close)
	return s
}

// CertPEM returns the server's certificate, to be trusted as a CA.
func (s *Server) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.ts.Certificate().Raw})
}

// WriteCAFile writes CertPEM to path.
func (s *Server) WriteCAFile(path string) error {
	return os.WriteFile(path, s.CertPEM(), 0o644)
}

// TokenURL is the org authorization server's token endpoint (the
// audience of client assertions).
func (s *Server) TokenURL() string { return s.URL + "/oauth2/v1/token" }

// RegisterClient registers an API service app: its client id, the public
// key that verifies its assertions (kid optional: when set, an assertion
// carrying another kid is refused) and the scopes granted to it.
func (s *Server) RegisterClient(clientID string, pub crypto.PublicKey, kid string, scopes ...string) {
	c := &client{key: pub, kid: kid, scopes: map[string]bool{}}
	for _, sc := range scopes {
		c.scopes[sc] = true
	}
	s.mu.Lock()
	s.clients[clientID] = c
	s.mu.Unlock()
}

// AddAPIToken accepts token as an SSWS API token.
func (s *Server) AddAPIToken(token string) {
	s.mu.Lock()
	s.apiToks[token] = true
	s.mu.Unlock()
}

// SetTokenLifetime sets the lifetime of access tokens issued from now on
// (default one hour).
func (s *Server) SetTokenLifetime(d time.Duration) {
	s.mu.Lock()
	s.lifetime = d
	s.mu.Unlock()
}

// RevokeTokens invalidates every access token issued so far.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	s.tokens = map[string]token{}
	s.mu.Unlock()
}

// AddUser adds a user and returns its id. It panics on a duplicate id or
// login: a test set-up mistake.
func (s *Server) AddUser(u User) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == "" {
		u.ID = newID("00u")
	}
	if u.Status == "" {
		u.Status = "ACTIVE"
	}
	if _, dup := s.users[u.ID]; dup || s.byLogin(u.Login) != nil || u.Login == "" {
		panic(fmt.Sprintf("oktatest: duplicate or empty user %q / %q", u.ID, u.Login))
	}
	p := map[string]any{}
	for k, v := range u.Profile {
		p[k] = v
	}
	u.Profile = p
	s.users[u.ID] = &u
	s.order = append(s.order, u.ID)
	return u.ID
}

// DeleteUser removes a user (by id or login).
func (s *Server) DeleteUser(idOrLogin string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.mustUser(idOrLogin)
	delete(s.users, u.ID)
	delete(s.members, u.ID)
	for i, id := range s.order {
		if id == u.ID {
			s.order = append(s.order[:i:i], s.order[i+1:]...)
			break
		}
	}
}

// SetStatus sets a user's status (any string: unknown statuses are
// allowed so that clients can be tested against them).
func (s *Server) SetStatus(idOrLogin, status string) {
	s.mu.Lock()
	s.mustUser(idOrLogin).Status = status
	s.mu.Unlock()
}

// SetProfile sets (or, with a nil value, removes) a profile attribute.
func (s *Server) SetProfile(idOrLogin, attr string, value any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.mustUser(idOrLogin)
	if value == nil {
		delete(u.Profile, attr)
		return
	}
	u.Profile[attr] = value
}

// SetGroups replaces a user's groups by name, creating groups that do not
// exist yet.
func (s *Server) SetGroups(idOrLogin string, names ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.mustUser(idOrLogin)
	var ids []string
	for _, n := range names {
		ids = append(ids, s.groupID(n))
	}
	s.members[u.ID] = ids
}

// GroupID returns the id of the group named name, creating it if needed.
func (s *Server) GroupID(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.groupID(name)
}

func (s *Server) groupID(name string) string {
	for id, n := range s.groups {
		if n == name {
			return id
		}
	}
	id := newID("00g")
	s.groups[id] = name
	return id
}

// SetSearchStale models the lag of Okta's search index ("search results
// might be stale"): with stale true, search= answers from a copy of the
// users taken now, whatever changes later, until SetSearchStale(false).
// Reads by id or login and filter= stay current.
func (s *Server) SetSearchStale(stale bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !stale {
		s.index = nil
		return
	}
	s.index = map[string]*User{}
	for id, u := range s.users {
		c := *u
		c.Profile = map[string]any{}
		for k, v := range u.Profile {
			c.Profile[k] = v
		}
		s.index[id] = &c
	}
}

// SetPageSize sets the largest page the list endpoints return, whatever
// limit the client asks for (default 200).
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	s.pageSize = n
	s.mu.Unlock()
}

// SetRateLimit sets each endpoint's limit per window (default 600 per
// minute) and starts new windows.
func (s *Server) SetRateLimit(limit int, window time.Duration) {
	s.mu.Lock()
	s.limit, s.window, s.buckets = limit, window, map[string]*bucket{}
	s.mu.Unlock()
}

// Inject429 makes the next n API requests (not token requests) answer 429
// with X-Rate-Limit-Remaining 0 and a reset at the current second, so a
// client waits briefly.
func (s *Server) Inject429(n int) {
	s.mu.Lock()
	s.fail429 = n
	s.mu.Unlock()
}

// InjectStatus makes the next n API requests answer code with an Okta
// error body; n < 0 means every request until InjectStatus(0, 0).
func (s *Server) InjectStatus(code, n int) {
	s.mu.Lock()
	s.failCode, s.failN = code, n
	s.mu.Unlock()
}

// SetDelay makes every API answer wait d first (0 turns it off).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// Count returns the requests received by endpoint (see the Endpoint
// constants), refused ones included.
func (s *Server) Count(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[endpoint]
}

// MaxInFlight returns the most requests that were being served at once.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxIn
}

// ResetCounts zeroes the request counters and MaxInFlight.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	s.counts, s.maxIn = map[string]int{}, 0
	s.mu.Unlock()
}

// mustUser finds a user by id or login; s.mu is held.
func (s *Server) mustUser(idOrLogin string) *User {
	if u := s.users[idOrLogin]; u != nil {
		return u
	}
	if u := s.byLogin(idOrLogin); u != nil {
		return u
	}
	panic(fmt.Sprintf("oktatest: no user %q", idOrLogin))
}

// byLogin finds a user by login, case-insensitively; s.mu is held.
func (s *Server) byLogin(login string) *User {
	for _, u := range s.users {
		if strings.EqualFold(u.Login, login) {
			return u
		}
	}
	return nil
}

func newID(prefix string) string {
	b := make([]byte, 9)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
