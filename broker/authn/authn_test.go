package authn

import (
	"context"
	"errors"
	"testing"

	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/zap"
)

// fakeKeys is a contract fake of certs.Registry's Lookup.
type fakeKeys map[certs.PublicKey]error

func (f fakeKeys) Lookup(k certs.PublicKey) (certs.Binding, error) {
	err, ok := f[k]
	if !ok {
		return certs.Binding{}, certs.ErrUnknownKey
	}
	if err != nil {
		return certs.Binding{}, err
	}
	return certs.Binding{Key: k, Principal: "PROXY01$"}, nil
}

func curveReq(k certs.PublicKey) *zap.Request {
	return &zap.Request{Version: "1.0", RequestID: []byte("1"), Address: "127.0.0.1", Mechanism: "CURVE", Credentials: [][]byte{k[:]}}
}

func TestAuthenticate(t *testing.T) {
	good, expired, conflict, broken, unknown, revoked := certs.PublicKey{1}, certs.PublicKey{2}, certs.PublicKey{3}, certs.PublicKey{4}, certs.PublicKey{5}, certs.PublicKey{6}
	keys := fakeKeys{good: nil, expired: certs.ErrExpired, conflict: certs.ErrConflict, broken: errors.New("disk on fire"),
		revoked: &certs.LookupError{Reason: certs.ReasonRevoked, Key: revoked}}
	a := New(keys, nil)
	cases := []struct {
		name    string
		req     *zap.Request
		status  zap.Status
		text    string
		wantErr bool
	}{
		{"known key", curveReq(good), zap.StatusOK, "OK", false},
		{"unknown key", curveReq(unknown), zap.StatusDenied, ReasonUnknownKey, false},
		{"expired", curveReq(expired), zap.StatusDenied, ReasonExpired, false},
		{"conflict", curveReq(conflict), zap.StatusDenied, ReasonConflict, false},
		{"revoked", curveReq(revoked), zap.StatusDenied, ReasonRevoked, false},
		{"registry failure is an error, not a denial", curveReq(broken), 0, "", true},
		{"NULL mechanism", &zap.Request{Version: "1.0", Mechanism: "NULL"}, zap.StatusDenied, ReasonMechanism, false},
		{"PLAIN mechanism", &zap.Request{Version: "1.0", Mechanism: "PLAIN", Credentials: [][]byte{[]byte("u"), []byte("p")}}, zap.StatusDenied, ReasonMechanism, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := a.Authenticate(context.Background(), tc.req)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("want error, got %+v", res)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status || res.StatusText != tc.text {
				t.Fatalf("got %v %q, want %v %q", res.Status, res.StatusText, tc.status, tc.text)
			}
			if res.Status == zap.StatusOK {
				if res.UserID != "PROXY01$" {
					t.Errorf("UserID = %q", res.UserID)
				}
				for _, p := range Properties() {
					if _, ok := res.Properties[p]; !ok {
						t.Errorf("property %s not set", p)
					}
				}
				if res.Properties[PropKey] != good.String() {
					t.Errorf("key property = %q", res.Properties[PropKey])
				}
			} else if res.UserID != "" || len(res.Properties) != 0 {
				t.Errorf("refusal carries identity: %+v", res)
			}
		})
	}
}
