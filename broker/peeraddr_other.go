//go:build !unix

package broker

// peerAddress is not available on this platform.
func peerAddress(int) string { return "unknown" }
