package okta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/idp"
)

// FindByKey implements key-in-directory mode: it finds the one user whose
// profile attribute Config.KeyAttribute holds the node's public key as its
// 40-character Z85 text (exactly that, no prefix; a string attribute, or
// one value of a string-array attribute), with the search
// `profile.ATTR eq "Z85"`, and returns the user's profile.login. Okta may
// compare case-insensitively, Z85 is case-sensitive: values are compared
// exactly before a user counts. The search index may lag behind changes,
// so every match is read again by id (current data) and must still hold
// the key: clearing the attribute revokes at once. Users in any status are
// found; Lookup decides whether the principal is enabled.
//
// No user: an error wrapping idp.ErrNotFound. More than one user: an error
// that also wraps idp.ErrNotFound, so that neither is trusted (not even
// from the cache's stale grace). Technical failures, a 404 from the
// search endpoint included, wrap idp.ErrUnavailable. Without
// Config.KeyAttribute the error wraps errors.ErrUnsupported.
func (d *Directory) FindByKey(ctx context.Context, key [32]byte) (string, error) {
	attr := d.cfg.KeyAttribute
	if attr == "" {
		return "", fmt.Errorf("okta: find by key: key_attribute is not configured: %w", errors.ErrUnsupported)
	}
	z85 := certs.PublicKey(key).String()
	q := url.Values{"search": {searchExpr(attr, z85)}, "limit": {fmt.Sprint(PageLimit)}}
	var ids []string
	seen := map[string]bool{} // a user may move between pages while they are read
	err := d.c.pages(ctx, "users", d.cfg.OrgURL+"/api/v1/users?"+q.Encode(), "/api/v1/users", func(body []byte) error {
		var page []user
		if err := json.Unmarshal(body, &page); err != nil {
			return err
		}
		for _, u := range page {
			if hasValue(u.Profile[attr], z85) {
				if u.ID == "" {
					return errors.New("a matching user without id")
				}
				if !seen[u.ID] {
					seen[u.ID] = true
					ids = append(ids, u.ID)
				}
			}
		}
		return nil
	})
	if err != nil {
		return "", listNotFound(err)
	}
	// Okta's search index may lag behind changes: a user whose key was
	// just cleared (a revocation) can still be found. Each match is read
	// again by id, which is current, and must still hold the key.
	var logins []string
	for _, id := range ids {
		u, err := d.userByID(ctx, id)
		if errors.Is(err, idp.ErrNotFound) {
			continue // deleted since it was indexed
		}
		if err != nil {
			return "", err
		}
		if hasValue(u.Profile[attr], z85) {
			logins = append(logins, u.login())
		}
	}
	switch len(logins) {
	case 0:
		return "", fmt.Errorf("okta: no user has profile.%s %s: %w", attr, z85, idp.ErrNotFound)
	case 1:
		return logins[0], nil
	}
	return "", fmt.Errorf("okta: %d users have profile.%s %s (%q): a key must belong to exactly one user, neither is trusted: %w", len(logins), attr, z85, logins, idp.ErrNotFound)
}

// searchExpr is the Okta search expression `profile.ATTR eq "VALUE"`;
// attr is validated at load (letters, digits, _), and the value is quoted
// with quoteValue (Z85 has no quote or backslash).
func searchExpr(attr, value string) string {
	return fmt.Sprintf(`profile.%s eq %s`, attr, quoteValue(value))
}

// quoteValue quotes a string value for an Okta search or filter
// expression (SCIM filter syntax, RFC 7644: a JSON string): backslashes
// and double quotes are escaped, so the value cannot end the string and
// add a clause.
func quoteValue(value string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(value) + `"`
}

// userByID reads user id (GET /api/v1/users/{id}).
func (d *Directory) userByID(ctx context.Context, id string) (user, error) {
	resp, err := d.c.get(ctx, "users/{id}", d.cfg.OrgURL+"/api/v1/users/"+url.PathEscape(id))
	if err != nil {
		return user{}, err
	}
	var u user
	if err := json.Unmarshal(resp.body, &u); err != nil || !u.complete() || u.ID != id {
		return user{}, unavailable(fmt.Errorf("okta: user %s: unexpected body (id, status and profile.login are required): %v", id, err))
	}
	return u, nil
}

// hasValue reports whether a profile value (a string or an array of
// strings) holds want exactly.
func hasValue(v any, want string) bool {
	switch v := v.(type) {
	case string:
		return v == want
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}
