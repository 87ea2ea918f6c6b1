package routingid

import "testing"

// FuzzVerify: a routing id comes off the wire (libzmq hands the broker
// whatever id the connection holds, the peer's own if it won the
// handshake race), so Verify must take any bytes without panicking and
// accept only an id minted for exactly that key and principal.
func FuzzVerify(f *testing.F) {
	m, err := New()
	if err != nil {
		f.Fatal(err)
	}
	const key, user = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", "PROXY01$"
	good, err := m.Mint(key, user)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(good), key, user)
	f.Add([]byte(good), key, "PROXY02$")
	f.Add([]byte("worker-1"), key, user)
	f.Add([]byte{}, "", "")
	f.Add([]byte{0, 0, 0, 1}, key, user)
	f.Fuzz(func(t *testing.T, id []byte, k, u string) {
		ok := m.Verify(string(id), k, u)
		if ok && (string(id) != good || k != key || u != user) {
			t.Fatalf("Verify accepted an id not minted for (%q, %q): %q", k, u, id)
		}
		if string(id) == good && k == key && u == user && !ok {
			t.Fatal("Verify refused the id minted for its key and principal")
		}
	})
}
