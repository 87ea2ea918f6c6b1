// Package client is the Go library for zapgate nodes: backup servers,
// proxies and repositories that talk to each other through the zapgate
// broker over CURVE.
//
// A Client holds one connection for requests, event publication and
// subscriptions, and one more per Serve call (a Majordomo worker):
//
//	c, err := client.New(client.Config{
//		Endpoint:  "tcp://broker.example.com:5555",
//		ServerKey: brokerCert.Public,
//		PublicKey: node.Public,
//		SecretKey: *node.Secret,
//	})
//	reply, err := c.Request(ctx, "proxy", "task.start", []byte("job-7"))
//	if errors.Is(err, client.ErrForbidden) { ... }
//
// Refusals by the broker are *RefusedError values (errors.Is matches
// ErrForbidden, ErrNoWorker, ...). The wire protocol is plain Majordomo
// 0.2 plus zapgate's documented extension (docs/protocol.md), so nodes in
// other languages can use any Majordomo library instead.
//
// ZeroMQ sockets are not thread-safe: every socket here is owned by one
// goroutine, and the exported methods hand work to those goroutines, so a
// Client is safe for concurrent use.
package client
