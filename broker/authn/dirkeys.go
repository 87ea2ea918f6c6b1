package authn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/idp"
)

// DirectoryKeys is key-in-directory mode: instead of the file registry,
// the node's CURVE public key is stored on its directory account, and the
// directory finds the principal by key. Removing the value (or the
// account) revokes the node once the cached answer expires.
type DirectoryKeys struct {
	// Finder is the directory (usually behind idp/cache).
	Finder idp.KeyFinder
	// Timeout bounds one lookup (default 5s).
	Timeout time.Duration
}

var _ Keys = DirectoryKeys{}

// Lookup implements Keys: not found is certs.ErrUnknownKey (ZAP 400); a
// directory failure wraps idp.ErrUnavailable (ZAP 300: the node retries).
func (d DirectoryKeys) Lookup(key certs.PublicKey) (certs.Binding, error) {
	t := d.Timeout
	if t <= 0 {
		t = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), t)
	defer cancel()
	p, err := d.Finder.FindByKey(ctx, key)
	switch {
	case errors.Is(err, idp.ErrNotFound):
		return certs.Binding{}, fmt.Errorf("authn: key %s: %w", key.Fingerprint(), certs.ErrUnknownKey)
	case err != nil:
		if errors.Is(err, idp.ErrUnavailable) {
			return certs.Binding{}, fmt.Errorf("authn: key %s: %w", key.Fingerprint(), err)
		}
		return certs.Binding{}, fmt.Errorf("authn: key %s: %w: %w", key.Fingerprint(), idp.ErrUnavailable, err)
	}
	return certs.Binding{Key: key, Principal: p, Source: "directory"}, nil
}
