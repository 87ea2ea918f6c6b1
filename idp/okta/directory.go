package okta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/zapgate/zapgate/idp"
)

// Directory is an idp.Directory, idp.KeyFinder and idp.Closer backed by
// Okta's management API. It is safe for concurrent use.
type Directory struct {
	cfg Config
	c   *client
	now func() time.Time
}

var (
	_ idp.Directory = (*Directory)(nil)
	_ idp.KeyFinder = (*Directory)(nil)
	_ idp.Closer    = (*Directory)(nil)
)

// New validates cfg, reads the private key (or API token) and CA files and
// returns a Directory. It does not contact Okta: the first Lookup does, so
// an Okta outage at start-up is not fatal. cfg is copied; defaults never
// modify the caller's value.
func New(cfg Config) (*Directory, error) {
	n, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	tc, err := n.tlsConfig()
	if err != nil {
		return nil, err
	}
	base, _ := url.Parse(n.OrgURL)
	hc := &http.Client{
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			TLSClientConfig:     tc,
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: n.MaxConcurrent,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: n.Timeout,
		},
		// Redirects are not followed: an API answer is never a redirect,
		// and credentials must not travel elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c := &client{
		base:    base,
		http:    hc,
		timeout: n.Timeout,
		maxWait: n.MaxRateLimitWait,
		sem:     make(chan struct{}, n.MaxConcurrent),
		now:     time.Now,
		paused:  map[string]time.Time{},
	}
	switch n.mode() {
	case modeOAuth:
		key, err := loadSigningKey(n.PrivateKeyFile, n.KeyID)
		if err != nil {
			return nil, err
		}
		c.auth = newOAuth(&assertionSource{
			clientID: n.ClientID,
			scopes:   n.Scopes,
			tokenURL: n.OrgURL + "/oauth2/v1/token",
			key:      key,
			client:   hc,
			timeout:  n.Timeout,
			now:      time.Now,
		})
		c.bearer = true
	case modeSSWS:
		tok, err := n.readAPIToken()
		if err != nil {
			return nil, err
		}
		c.auth = ssws{token: tok}
	}
	return &Directory{cfg: n, c: c, now: time.Now}, nil
}

// Close releases idle connections.
func (d *Directory) Close() error {
	d.c.http.CloseIdleConnections()
	return nil
}

// SupportsKeys reports whether key-in-directory mode is configured
// (Config.KeyAttribute set).
func (d *Directory) SupportsKeys() bool { return d.cfg.KeyAttribute != "" }

// LookupOnly returns d without the idp.KeyFinder capability, for callers
// (the cache) that detect capabilities by type assertion when
// key-in-directory mode is off. Close still closes d.
func (d *Directory) LookupOnly() idp.Directory { return lookupOnly{d} }

type lookupOnly struct{ d *Directory }

func (l lookupOnly) Lookup(ctx context.Context, p string) (idp.Identity, error) {
	return l.d.Lookup(ctx, p)
}
func (l lookupOnly) Close() error { return l.d.Close() }

// user is the part of an Okta user object zapgate reads.
type user struct {
	ID      string         `json:"id"`
	Status  string         `json:"status"`
	Profile map[string]any `json:"profile"`
}

// login returns profile.login.
func (u user) login() string {
	s, _ := u.Profile["login"].(string)
	return s
}

// complete reports whether u has what zapgate needs: id, status and
// profile.login.
func (u user) complete() bool { return u.ID != "" && u.Status != "" && u.login() != "" }

// profileString returns a string profile attribute ("" when absent).
func (u user) profileString(name string) string {
	s, _ := u.Profile[name].(string)
	return s
}

// group is the part of an Okta group object zapgate reads.
type group struct {
	ID      string `json:"id"`
	Profile struct {
		Name string `json:"name"`
	} `json:"profile"`
}

// StatusEnabled reports whether a user with the Okta status may connect;
// a status not listed (a future one) is not enabled. The node
// authenticates with its CURVE key, never an Okta password, so only
// password-clock states keep it enabled; see the package documentation.
func StatusEnabled(status string) bool { return statuses[status] }

// statuses maps every Okta user status documented today to whether the
// node may connect.
var statuses = map[string]bool{
	"ACTIVE":           true,
	"PASSWORD_EXPIRED": true,
	"STAGED":           false,
	"PROVISIONED":      false,
	"RECOVERY":         false,
	"LOCKED_OUT":       false,
	"SUSPENDED":        false,
	"DEPROVISIONED":    false,
}

// Lookup finds principal (an Okta login or user id) and returns its
// identity: Principal is the user's profile.login; Groups are "okta:NAME"
// and "okta:ID" of each group, read only for enabled users. See the package
// documentation for the errors it returns.
func (d *Directory) Lookup(ctx context.Context, principal string) (idp.Identity, error) {
	u, err := d.findUser(ctx, principal)
	if err != nil {
		return idp.Identity{}, err
	}
	id := idp.Identity{
		Principal:   u.login(),
		DisplayName: displayName(u),
		Enabled:     StatusEnabled(u.Status),
		Source:      "okta",
	}
	if id.Enabled {
		if id.Groups, err = d.groups(ctx, u.ID); errors.Is(err, idp.ErrNotFound) {
			err = d.groupsNotFound(ctx, u, err)
		}
		if err != nil {
			return idp.Identity{}, err
		}
	}
	id.FetchedAt = d.now()
	return id, nil
}

// findUser reads the user named by principal (a login or an id).
// Principals Okta cannot take as a path segment are decided without a
// path request: "." and "..", and names with control characters, are not
// found (a proxy would resolve them to
// another endpoint), and a login with "/" is looked up with
// filter=profile.login eq "…" (Okta fetches such logins by id only).
func (d *Directory) findUser(ctx context.Context, principal string) (user, error) {
	switch {
	case principal == "":
		return user{}, fmt.Errorf("okta: empty principal: %w", idp.ErrNotFound)
	case principal == "." || principal == "..":
		return user{}, fmt.Errorf("okta: principal %q is not a login or id: %w", principal, idp.ErrNotFound)
	case strings.ContainsFunc(principal, unicode.IsControl):
		return user{}, fmt.Errorf("okta: principal %q contains a control character: %w", principal, idp.ErrNotFound)
	case strings.Contains(principal, "/"):
		return d.userByLoginFilter(ctx, principal)
	}
	resp, err := d.c.get(ctx, "users/{id}", d.cfg.OrgURL+"/api/v1/users/"+url.PathEscape(principal))
	if err != nil {
		return user{}, err
	}
	var u user
	if err := json.Unmarshal(resp.body, &u); err != nil || !u.complete() {
		return user{}, unavailable(fmt.Errorf("okta: user %q: unexpected body (id, status and profile.login are required): %v", principal, err))
	}
	if u.ID != principal && !strings.EqualFold(u.login(), principal) {
		// Okta also resolves a login's short name ("alice" for
		// alice@example.com); zapgate binds keys to a login or id only.
		return user{}, fmt.Errorf("okta: %q resolved to user %s with login %q: use the full login or the id: %w", principal, u.ID, u.login(), idp.ErrNotFound)
	}
	return u, nil
}

// userByLoginFilter finds the user whose login is login with
// GET /api/v1/users?filter=profile.login eq "LOGIN" (not the search
// index, which may lag behind changes).
func (d *Directory) userByLoginFilter(ctx context.Context, login string) (user, error) {
	q := url.Values{"filter": {"profile.login eq " + quoteValue(login)}, "limit": {"2"}}
	resp, err := d.c.get(ctx, "users", d.cfg.OrgURL+"/api/v1/users?"+q.Encode())
	if err != nil {
		return user{}, listNotFound(err)
	}
	var page []user
	if !isJSONArray(resp.body) || json.Unmarshal(resp.body, &page) != nil {
		return user{}, unavailable(fmt.Errorf("okta: user %q: unexpected body: not a JSON array of users", login))
	}
	var found []user
	for _, u := range page {
		if !u.complete() {
			return user{}, unavailable(fmt.Errorf("okta: user %q: unexpected body (id, status and profile.login are required)", login))
		}
		if strings.EqualFold(u.login(), login) {
			found = append(found, u)
		}
	}
	switch len(found) {
	case 0:
		return user{}, fmt.Errorf("okta: no user has login %q: %w", login, idp.ErrNotFound)
	case 1:
		return found[0], nil
	}
	return user{}, unavailable(fmt.Errorf("okta: %d users have login %q", len(found), login))
}

// groupsNotFound decides what a 404 from the groups endpoint of user u,
// found a moment before, means: if the user is now gone, not found; if it
// is still there, the 404 is not an answer about it (an outage), so a
// transient error neither denies a known node nor caches the denial.
func (d *Directory) groupsNotFound(ctx context.Context, u user, groupsErr error) error {
	_, err := d.userByID(ctx, u.ID)
	switch {
	case errors.Is(err, idp.ErrNotFound):
		return fmt.Errorf("okta: user %s (%q) was deleted while its groups were read: %w", u.ID, u.login(), idp.ErrNotFound)
	case err != nil:
		return err
	}
	return unavailable(fmt.Errorf("okta: groups of user %s (%q): 404 although the user exists (%v)", u.ID, u.login(), groupsErr))
}

// listNotFound turns a 404 from a list endpoint, which is never an
// answer about a principal, into an outage; other errors pass unchanged.
func listNotFound(err error) error {
	if errors.Is(err, idp.ErrNotFound) {
		return unavailable(fmt.Errorf("list endpoint answered 404: %v", err))
	}
	return err
}

// displayName is profile.displayName, else first and last name, else the
// login.
func displayName(u user) string {
	if s := u.profileString("displayName"); s != "" {
		return s
	}
	if s := strings.TrimSpace(u.profileString("firstName") + " " + u.profileString("lastName")); s != "" {
		return s
	}
	return u.login()
}

// groups reads all of a user's groups, following pagination.
func (d *Directory) groups(ctx context.Context, userID string) ([]string, error) {
	prefix := "/api/v1/users/" + url.PathEscape(userID) + "/groups"
	var out []string
	err := d.c.pages(ctx, "users/{id}/groups", d.cfg.OrgURL+prefix+fmt.Sprintf("?limit=%d", PageLimit), prefix, func(body []byte) error {
		var page []group
		if err := json.Unmarshal(body, &page); err != nil {
			return err
		}
		for _, g := range page {
			if g.ID == "" || g.Profile.Name == "" {
				return errors.New("a group without id or profile.name")
			}
			out = append(out, "okta:"+g.Profile.Name, "okta:"+g.ID)
		}
		return nil
	})
	if err != nil {
		// A 404 with Okta's not-found error: Lookup decides (see
		// groupsNotFound).
		return nil, err
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
