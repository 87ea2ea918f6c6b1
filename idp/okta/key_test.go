package okta

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/idp"
	"github.com/zapgate/zapgate/idp/okta/oktatest"
)

// swapCase changes the case of every letter.
func swapCase(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 32
		case r >= 'A' && r <= 'Z':
			return r + 32
		}
		return r
	}, s)
}

func TestFindByKey(t *testing.T) {
	f := newFixture(t)
	cfg := f.rsaConfig(t)
	cfg.KeyAttribute = "zapgateCurveKey"
	d := mustNew(t, cfg)
	if !d.SupportsKeys() {
		t.Fatal("SupportsKeys = false with key_attribute")
	}
	var k1, k2, k3 [32]byte
	for i := range k1 {
		k1[i], k2[i], k3[i] = byte(i), byte(i*7+1), byte(255-i)
	}
	z1, z2 := certs.PublicKey(k1).String(), certs.PublicKey(k2).String()
	if swapCase(z1) == z1 {
		t.Fatalf("key %s has no letters", z1)
	}
	f.srv.AddUser(oktatest.User{Login: "proxy01@x.example", Profile: map[string]any{"zapgateCurveKey": z1}})
	// Okta compares case-insensitively; Z85 is case-sensitive: this user
	// must not match k1.
	f.srv.AddUser(oktatest.User{Login: "evil@x.example", Profile: map[string]any{"zapgateCurveKey": swapCase(z1)}})
	f.srv.AddUser(oktatest.User{Login: "multi@x.example", Status: "SUSPENDED", Profile: map[string]any{"zapgateCurveKey": []any{"other", z2}}})
	ctx := context.Background()
	if p, err := d.FindByKey(ctx, k1); err != nil || p != "proxy01@x.example" {
		t.Errorf("FindByKey(k1) = %q, %v", p, err)
	}
	if p, err := d.FindByKey(ctx, k2); err != nil || p != "multi@x.example" {
		t.Errorf("FindByKey(k2) (array attribute, suspended user) = %q, %v", p, err)
	}
	if _, err := d.FindByKey(ctx, k3); !errors.Is(err, idp.ErrNotFound) {
		t.Errorf("FindByKey(unknown) = %v, want not found", err)
	}

	// A second user with the same key: neither is trusted.
	f.srv.AddUser(oktatest.User{Login: "copy@x.example", Profile: map[string]any{"zapgateCurveKey": z1}})
	_, err := d.FindByKey(ctx, k1)
	if !errors.Is(err, idp.ErrNotFound) || !strings.Contains(err.Error(), "neither") || !strings.Contains(err.Error(), "copy@x.example") {
		t.Errorf("duplicate key: %v", err)
	}
	// Removing the value revokes the node.
	f.srv.SetProfile("copy@x.example", "zapgateCurveKey", nil)
	f.srv.SetProfile("proxy01@x.example", "zapgateCurveKey", nil)
	if _, err := d.FindByKey(ctx, k1); !errors.Is(err, idp.ErrNotFound) {
		t.Errorf("after removing the key: %v", err)
	}

	f.srv.InjectStatus(503, 1)
	if _, err := d.FindByKey(ctx, k2); !errors.Is(err, idp.ErrUnavailable) {
		t.Errorf("during a 503: %v", err)
	}
}

func TestFindByKeyPaginates(t *testing.T) {
	f := newFixture(t)
	cfg := f.sswsConfig(t)
	cfg.KeyAttribute = "curve"
	d := mustNew(t, cfg)
	var k [32]byte
	for i := range k {
		k[i] = byte(i*13 + 5)
	}
	z := certs.PublicKey(k).String()
	if swapCase(z) == z {
		t.Fatalf("key %s has no letters", z)
	}
	// Four users match the search case-insensitively; only the last
	// one exactly, on the third page.
	for i, v := range []string{swapCase(z), swapCase(z), swapCase(z), swapCase(z), z} {
		f.srv.AddUser(oktatest.User{Login: string(rune('a'+i)) + "@x.example", Profile: map[string]any{"curve": v}})
	}
	f.srv.SetPageSize(2)
	if p, err := d.FindByKey(context.Background(), k); err != nil || p != "e@x.example" {
		t.Errorf("FindByKey = %q, %v", p, err)
	}
	if n := f.srv.Count(oktatest.EndpointUsers); n != 3 {
		t.Errorf("%d search pages, want 3", n)
	}
}

func TestSearchExpr(t *testing.T) {
	if got := searchExpr("k", `a"b\c`); got != `profile.k eq "a\"b\\c"` {
		t.Errorf("searchExpr = %s", got)
	}
}
