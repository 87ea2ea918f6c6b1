package ldap

import (
	"context"
	"time"
)

// URLCheck is the result of checking one server URL, for `zapgate doctor`.
type URLCheck struct {
	// URL is the server checked.
	URL string
	// Latency is how long connecting, TLS and binding took.
	Latency time.Duration
	// Err is nil when the server was reached and the bind succeeded.
	Err error
}

// CheckURLs connects and binds to every configured URL in turn (not only
// the first that answers), each bounded by Config.ConnectTimeout and ctx. It does
// not touch the pool.
func (d *Directory) CheckURLs(ctx context.Context) []URLCheck {
	out := make([]URLCheck, 0, len(d.cfg.URLs))
	for _, u := range d.cfg.URLs {
		start := time.Now()
		pc, err := dialOne(ctx, d.cfg, u)
		c := URLCheck{URL: u, Latency: time.Since(start), Err: err}
		if err == nil {
			pc.c.Close()
		}
		out = append(out, c)
	}
	return out
}
