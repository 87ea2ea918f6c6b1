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
// exactly before a user counts. Users in any status are found; Lookup
// decides whether the principal is enabled.
//
// No user: an error wrapping idp.ErrNotFound. More than one user: an error
// that also wraps idp.ErrNotFound, so that neither is trusted (not even
// from the cache's stale grace). Technical failures wrap
// idp.ErrUnavailable. Without Config.KeyAttribute the error wraps
// errors.ErrUnsupported.
func (d *Directory) FindByKey(ctx context.Context, key [32]byte) (string, error) {
	attr := d.cfg.KeyAttribute
	if attr == "" {
		return "", fmt.Errorf("okta: find by key: key_attribute is not configured: %w", errors.ErrUnsupported)
	}
	z85 := certs.PublicKey(key).String()
	q := url.Values{"search": {searchExpr(attr, z85)}, "limit": {fmt.Sprint(PageLimit)}}
	var logins []string
	err := d.c.pages(ctx, "users", d.cfg.OrgURL+"/api/v1/users?"+q.Encode(), "/api/v1/users", func(body []byte) error {
		var page []user
		if err := json.Unmarshal(body, &page); err != nil {
			return err
		}
		for _, u := range page {
			if hasValue(u.Profile[attr], z85) {
				if u.login() == "" {
					return fmt.Errorf("user %s has no profile.login", u.ID)
				}
				logins = append(logins, u.login())
			}
		}
		return nil
	})
	if err != nil {
		return "", err
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
// attr is validated at load, and the value's quotes and backslashes are
// escaped (Z85 has neither).
func searchExpr(attr, value string) string {
	value = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(value)
	return fmt.Sprintf(`profile.%s eq "%s"`, attr, value)
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
