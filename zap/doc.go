// Package zap implements the ZeroMQ Authentication Protocol (ZAP, RFC 27):
// a strict codec for requests, replies and ZMTP metadata, and a concurrent
// ZAP server bound on inproc://zeromq.zap.01 that asks an Authenticator.
//
// The package knows nothing of directories, policy or audit: everything
// beyond RFC 27 lives behind the Authenticator interface.
package zap
