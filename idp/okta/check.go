package okta

import (
	"context"
	"fmt"
	"time"
)

// Check is the result of one `zapgate doctor` check against Okta.
type Check struct {
	// What names the check ("token …", "GET …").
	What string
	// Latency is how long it took.
	Latency time.Duration
	// Err is nil when the check passed.
	Err error
}

// CheckAPI proves the credentials work: in OAuth mode it requests a fresh
// access token (not the cached one), then it reads one user
// (GET /api/v1/users?limit=1). Each check is bounded by Config.Timeout and
// ctx.
func (d *Directory) CheckAPI(ctx context.Context) []Check {
	var out []Check
	if d.c.bearer {
		start := time.Now()
		err := d.c.auth.check()
		out = append(out, Check{
			What:    fmt.Sprintf("token from %s/oauth2/v1/token as client %q (private_key_jwt)", d.cfg.OrgURL, d.cfg.ClientID),
			Latency: time.Since(start), Err: err,
		})
		if err != nil {
			return out
		}
	}
	start := time.Now()
	_, err := d.c.get(ctx, "users", d.cfg.OrgURL+"/api/v1/users?limit=1")
	out = append(out, Check{What: "GET " + d.cfg.OrgURL + "/api/v1/users?limit=1", Latency: time.Since(start), Err: err})
	return out
}
