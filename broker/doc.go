// Package broker is zapgate's authorizing Majordomo relay: one CURVE
// ROUTER socket that speaks MDP 0.2 to clients (MDPC01) and workers
// (MDPW01), answers MMI lookups and carries job-status events, and checks
// every message against the sender's current identity and roles before it
// relays it. The wire protocol, refusals included, is in docs/protocol.md.
//
// The broker knows nothing of keys, directories, policies or audit logs:
// it asks an Authorizer about each message (keyed by the connection's
// ZAP-set User-Id and X-Zapgate-Key, never by a routing id or a property a
// peer could set) and a Recorder to write each decision durably, and
// refuses when either fails. broker/authn adapts the real chain to both.
//
// The broker addresses each connection only by the routing id the ZAP
// handler minted for it (Config.RoutingIDs verifies it on every message),
// so a peer never chooses it and a later connection never inherits what
// an earlier one held. A worker is authorized again each time a request
// is dispatched to it, before the request's content is sent.
//
// Memory (docs/security.md, "Memory bound"): messages are bounded in
// frames and bytes as they are read, held bytes per peer and broker-wide,
// and what libzmq holds per connection before a message is complete by
// closing a connection from which libzmq read more than
// Config.MaxConnectionBacklog with no message delivered (conns.go). Run's
// loop owns the socket; the socket monitor and the connection checker run
// on goroutines of their own and touch file descriptors, never the socket.
//
// Start order (security invariant 1): create the zmq context, start the
// zap.Server, then New (which checks a ZAP handler is bound), then Run.
// Stop in reverse: Close (or cancel Run's context), the zap.Server, then
// terminate the context.
//
// Sub-packages: mdp is the MDP codec and the extension's frames; client is
// the Go library for nodes; authn is the ZAP authenticator and the
// adapters; audit is the audit log.
package broker
