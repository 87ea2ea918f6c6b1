// Package certs handles CURVE key material: keypairs from libzmq's
// generator, Z85 encoding with validation, key fingerprints for logs,
// certificate files in CZMQ's zcert (ZPL) format, and the key registry that
// binds a public key to a principal.
//
// # Certificate files
//
// A certificate is two files in CZMQ's zcert format, as czmq's zcert_save
// and pyzmq's zmq.auth.create_certificates write them: NAME.key holds the
// public key and NAME.key_secret (mode 0600) holds both keys:
//
//	#   ****  Generated on 2026-11-25 14:03:22 by zapgate  ****
//	#   ZeroMQ CURVE **Secret** Certificate
//	#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.
//
//	metadata
//	    principal = "PROXY01$"
//	curve
//	    public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
//	    secret-key = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
//
// LoadSecret refuses a secret file that group or others may access.
//
// # Key registry
//
// A registry is a directory of public certificate files, one NAME.key per
// binding, whose metadata names the principal:
//
//	metadata
//	    principal = "PROXY01$"
//	    source = "CHG-1234"
//	    expires = "2027-01-31"
//	    note = "proxy in rack 4"
//	curve
//	    public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
//
// Revoked files live in its revoked/ subdirectory. Like sshd's StrictModes,
// a file or directory that another user may change (writable by group or
// others, owned by someone other than this process's user or root) and a
// symbolic link that leaves the directory bind nothing (ErrUntrusted), and
// a registry directory that is gone binds nothing until it is back. Open reads a registry,
// Registry.Watch follows it, and Registry.Lookup answers "which principal
// is this key?" for each handshake. AddCert, List, Find and Revoke are the
// administrative operations behind `zapgate keys`.
package certs
