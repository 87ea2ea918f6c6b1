// Package integration holds zapgate's end-to-end tests. They run under the
// "integration" build tag against real libzmq sockets and, as later issues
// land, real directory, OpenID and syslog servers started on 127.0.0.1.
package integration
