package authn

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/idp"
	"github.com/zapgate/zapgate/zap"
)

// fakeFinder answers FindByKey from a map, or fails like an unreachable
// directory.
type fakeFinder struct {
	keys map[[32]byte]string
	down bool
}

func (f fakeFinder) FindByKey(_ context.Context, k [32]byte) (string, error) {
	if f.down {
		return "", fmt.Errorf("ldap: dial: %w", idp.ErrUnavailable)
	}
	if p, ok := f.keys[k]; ok {
		return p, nil
	}
	return "", fmt.Errorf("ldap: key: %w", idp.ErrNotFound)
}

func TestDirectoryKeys(t *testing.T) {
	e := newEnv(t, nil)
	proxy := e.keys["PROXY01$"]
	finder := fakeFinder{keys: map[[32]byte]string{proxy: "PROXY01$"}}
	e.chain.Keys = DirectoryKeys{Finder: finder}
	a := New(e.chain)
	if res, err := a.Authenticate(context.Background(), curveReq(proxy, "127.0.0.1")); err != nil || res.Status != zap.StatusOK || res.UserID != "PROXY01$" {
		t.Fatalf("key in the directory: %+v %v", res, err)
	}
	other, _ := certs.NewCert()
	if res, _ := a.Authenticate(context.Background(), curveReq(other.Public, "127.0.0.1")); res.Status != zap.StatusDenied || res.StatusText != ReasonUnknownKey {
		t.Fatalf("key nowhere: %+v", res)
	}
	finder.down = true
	e.chain.Keys = DirectoryKeys{Finder: finder}
	res, err := New(e.chain).Authenticate(context.Background(), curveReq(proxy, "127.0.0.1"))
	if err != nil || res.Status != zap.StatusTempFail || res.StatusText != ReasonDirectory {
		t.Fatalf("directory down: %+v %v, want 300 %s", res, err, ReasonDirectory)
	}
	if _, err := (DirectoryKeys{Finder: finder}).Lookup(proxy); !errors.Is(err, idp.ErrUnavailable) {
		t.Fatalf("outage error %v does not wrap idp.ErrUnavailable", err)
	}
}
