package ldap

import (
	"context"
	"net"
	"sync"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"
)

// earlyTimeLimitServer is a minimal LDAP server over plain TCP that
// answers the first search with timeLimitExceeded at once, as Samba does
// on a loaded machine, and every later one with one entry (uid=alice).
func earlyTimeLimitServer(t *testing.T) (addr string, searches func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for {
					p, err := ber.ReadPacket(c)
					if err != nil || len(p.Children) < 2 {
						return
					}
					id := p.Children[0].Value
					if p.Children[1].Tag != goldap.ApplicationSearchRequest {
						return
					}
					mu.Lock()
					n++
					first := n == 1
					mu.Unlock()
					code := goldap.LDAPResultSuccess
					if first {
						code = goldap.LDAPResultTimeLimitExceeded
					} else {
						entry := ber.Encode(ber.ClassApplication, ber.TypeConstructed, goldap.ApplicationSearchResultEntry, nil, "entry")
						entry.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "uid=alice,dc=example,dc=com", "dn"))
						attrs := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "attrs")
						a := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "attr")
						a.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "cn", "type"))
						vals := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "vals")
						vals.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "Alice", "val"))
						a.AppendChild(vals)
						attrs.AppendChild(a)
						entry.AppendChild(attrs)
						if _, err := c.Write(envelope(id, entry).Bytes()); err != nil {
							return
						}
					}
					res := ber.Encode(ber.ClassApplication, ber.TypeConstructed, goldap.ApplicationSearchResultDone, nil, "done")
					res.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, int64(code), "code"))
					res.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "matched"))
					res.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "message"))
					if _, err := c.Write(envelope(id, res).Bytes()); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String(), func() int { mu.Lock(); defer mu.Unlock(); return n }
}

func envelope(id any, op *ber.Packet) *ber.Packet {
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "message")
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "id"))
	p.AppendChild(op)
	return p
}

// TestEarlyTimeLimitIsRetried: a server that answers timeLimitExceeded
// long before the time limit the search carried (Samba under load) gets
// the search once more, and the lookup succeeds.
func TestEarlyTimeLimitIsRetried(t *testing.T) {
	addr, searches := earlyTimeLimitServer(t)
	cfg := valid()
	cfg.URLs, cfg.InsecureNoTLS, cfg.BindDN, cfg.BindPassword = []string{"ldap://" + addr}, true, "", ""
	cfg.Flavour, cfg.GroupMode = FlavourGeneric, GroupsMemberOf
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	id, err := d.Lookup(context.Background(), "alice")
	if err != nil {
		t.Fatalf("lookup: %v (searches %d)", err, searches())
	}
	if id.DisplayName != "Alice" || searches() != 2 {
		t.Fatalf("identity %+v after %d searches", id, searches())
	}
}
