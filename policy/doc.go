// Package policy is zapgate's role-based decision engine: it turns directory
// groups into roles and decides, without I/O, whether an identity may
// connect, serve, request, publish or subscribe. The engine arrives with a
// later issue.
package policy
