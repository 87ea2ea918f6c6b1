// Package policy is zapgate's role-based decision engine and its loader.
//
// A policy file (YAML, format in docs/policy.md) binds directory groups —
// Active Directory DNs, Okta groups written "okta:NAME" or "okta:ID", plain
// group names — and principals to roles; gives each role permissions
// (connect from source networks, serve services, request commands of
// services, publish and subscribe to topics); and lists deny rules that
// win over every grant. Anything no role allows is denied.
//
// Parse and Load validate a file strictly and compile it into lookup
// tables: every problem is reported at once with file:line (Errors).
// Load can require a detached ed25519 signature (FILE.sig, see Sign,
// Verify and SignFile) and can run the file's embedded tests (RunTests).
//
// Policy.Decide is pure: no I/O, no locks, and no allocation apart from
// the returned roles slice. Its Decision carries the exact Rule that
// decided (a deny rule, a role's permission entry, or the default deny)
// and the policy revision and content hash, for the audit record;
// Policy.Explain gives the
// whole chain for "zapgate policy explain". Diff compares two policies'
// decisions for review.
//
// Store serves a policy to the broker and replaces it atomically when the
// file changes (Watch, fsnotify on the directory, debounced) or on
// Reload (SIGHUP): the new file must be complete (no process holds it
// open for writing, and it is unchanged over a settle interval; see
// ErrIncomplete), verify, validate and pass its tests, or the last good
// policy keeps serving and the failure is logged and counted (Status). A
// reload that drops deny rules or tests is reported (Weakened).
//
// Example:
//
//	version: 1
//	revision: "2026-11-25.1"
//	roles:
//	  proxy:
//	    connect: {from: ["10.30.0.0/16"]}
//	    serve: [proxy]
//	    publish: ["job.status.*"]
//	bindings:
//	  - {group: "okta:backup-proxies", roles: [proxy]}
//	deny:
//	  - {group: "CN=Quarantine,OU=Groups,DC=corp,DC=example,DC=com"}
//	tests:
//	  - name: a proxy publishes its status
//	    identity: {principal: "PROXY01$", groups: ["okta:backup-proxies"]}
//	    action: {kind: publish, topic: job.status.PROXY01}
//	    expect: allow
package policy
