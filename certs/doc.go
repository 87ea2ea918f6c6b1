// Package certs handles CURVE key material: keypairs from libzmq's
// generator, Z85 encoding with validation, key fingerprints for logs,
// certificate files in CZMQ's zcert (ZPL) format, and the key registry that
// binds a public key to a principal.
package certs
