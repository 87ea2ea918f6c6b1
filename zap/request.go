package zap

// Request is one decoded ZAP request (RFC 27). Credentials hold the
// mechanism's frames: none for NULL, username and password for PLAIN, the
// client's 32-byte long-term public key for CURVE.
type Request struct {
	// Version is the protocol version, always "1.0".
	Version string
	// RequestID is the opaque request id; libzmq 4.3.4 always sends "1".
	RequestID []byte
	// Domain is the server socket's ZMQ_ZAP_DOMAIN (may be empty).
	Domain string
	// Address is the peer's numeric IP address, without port.
	Address string
	// Identity is the server socket's routing id (not the client's).
	Identity []byte
	// Mechanism is "NULL", "PLAIN" or "CURVE".
	Mechanism string
	// Credentials are the mechanism-specific frames.
	Credentials [][]byte
}

// CurveKey returns the client's 32-byte CURVE public key, or false when the
// request is not a well-formed CURVE request.
func (r *Request) CurveKey() ([32]byte, bool) {
	var k [32]byte
	if r.Mechanism != "CURVE" || len(r.Credentials) != 1 || len(r.Credentials[0]) != 32 {
		return k, false
	}
	copy(k[:], r.Credentials[0])
	return k, true
}
