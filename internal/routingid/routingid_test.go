package routingid

import "testing"

func TestMintVerify(t *testing.T) {
	m, err := New()
	if err != nil {
		t.Fatal(err)
	}
	other, err := New()
	if err != nil {
		t.Fatal(err)
	}
	const key, user = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", "PROXY01$"
	seen := map[string]bool{}
	for range 1000 {
		id, err := m.Mint(key, user)
		if err != nil {
			t.Fatal(err)
		}
		if len(id) != Len || id[0] == 0 || len(id) > 255 {
			t.Fatalf("bad id %q", id)
		}
		if seen[id] {
			t.Fatalf("id %q minted twice", id)
		}
		seen[id] = true
		if !m.Verify(id, key, user) {
			t.Fatal("minted id does not verify")
		}
	}
	id, _ := m.Mint(key, user)
	for name, ok := range map[string]bool{
		"other user":   m.Verify(id, key, "PROXY02$"),
		"other key":    m.Verify(id, "x"+key[1:], user),
		"key/user cut": m.Verify(id, key[:39], key[39:]+user),
		"other minter": other.Verify(id, key, user),
		"nil minter":   (*Minter)(nil).Verify(id, key, user),
		"chosen id":    m.Verify("worker-1", key, user),
		"empty":        m.Verify("", key, user),
		"flipped bit":  m.Verify(id[:Len-1]+string(id[Len-1]^1), key, user),
		"too long":     m.Verify(id+"x", key, user),
	} {
		if ok {
			t.Errorf("%s: verified", name)
		}
	}
}
