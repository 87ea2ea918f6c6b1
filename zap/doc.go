// Package zap implements the ZeroMQ Authentication Protocol (ZAP, RFC 27):
// a strict codec for requests, replies and ZMTP metadata, and a concurrent
// ZAP server bound on inproc://zeromq.zap.01 that asks an Authenticator.
//
// The package knows nothing of directories, policy or audit: everything
// beyond RFC 27 lives behind the Authenticator interface.
//
// Typical use, one Server per zmq4.Context that holds CURVE server sockets:
//
//	srv, err := zap.NewServer(zctx, auth, zap.Config{Properties: []string{"X-Roles"}})
//	if err != nil { ... }
//	if err := srv.Start(); err != nil { ... } // fail closed: bind nothing
//	defer srv.Close()                          // after closing the CURVE sockets
//	// now bind CURVE sockets in zctx; read the peer's identity with
//	// RecvMessageWithMetadata(0, "User-Id", "X-Roles")
//
// Facts about libzmq 4.3.4 this package is built around:
//
//   - With no handler bound on the ZAP endpoint, libzmq accepts every CURVE
//     client (ZMQ_ZAP_ENFORCE_DOMAIN is a draft option). Hence Start's
//     self-test, and the rule to close CURVE sockets before Close.
//   - libzmq merges the ZAP reply's metadata with the client's own INITIATE
//     metadata; a ZAP property wins over a client property of exactly the
//     same name, and any other client property passes through. zmq_msg_gets
//     is case-sensitive. Config.Properties makes every 200 reply set the
//     authorization properties, so readers that use exactly those names see
//     only ZAP values. User-Id always comes from the reply's user id frame.
//   - The reply's "Identity" metadata (Result.RoutingID) becomes the peer's
//     ROUTER routing id, overriding the one the peer asked for, unless
//     libzmq read the reply before the client's INITIATE metadata (it
//     tries right after sending the request); hence RoutingIDHold.
//   - The request id is always "1" and each connection has its own pipe, so
//     replies are correlated by routing id and may go out in any order.
//   - 300 closes the connection silently (the client retries); 400 and 500
//     send ERROR (the client gives up). All three raise
//     EVENT_HANDSHAKE_FAILED_AUTH with the status as value.
package zap
