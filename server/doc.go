// Package server assembles a running zapgate from its configuration: the
// audit log, key registry, directory, policy store, zmq context, ZAP server
// (which must prove it answers before any CURVE socket binds), the
// Majordomo relay and the admin endpoint, and takes them down in the safe
// order. cmd/zapgate's serve verb only parses flags and calls Run.
package server
