package broker_test

import (
	"testing"

	"github.com/zapgate/zapgate/broker"
	"github.com/zapgate/zapgate/broker/authn"
)

// The broker must read the property exactly as authn spells it: libzmq's
// lookups are case-sensitive.
func TestPropertyNamesMatchAuthn(t *testing.T) {
	if broker.PropKeyForTest != authn.PropKey {
		t.Fatalf("broker reads %q, authn sets %q", broker.PropKeyForTest, authn.PropKey)
	}
}
