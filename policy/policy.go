package policy

import (
	"sort"
)

// Policy is a compiled policy file: roles, bindings and deny rules turned
// into lookup tables at load. A Policy is immutable and safe for
// concurrent use; deciding does no I/O. The zero Policy and a nil *Policy
// deny everything.
type Policy struct {
	file        string
	revision    string
	hash        string // hex SHA-256 of the file's bytes
	contentHash string // "sha256:" and hash[:16], see ContentHash
	description string
	signedBy    string // key ID of the verified signature, if any

	roles    []*role
	roleIdx  map[string]int
	words    int                      // uint64 words in a role bitset
	subjects map[string]*subjectEntry // by principal or group key
	bindings []*binding
	deny     []*denyRule
	tests    []*testCase
	rules    map[string]Rule // every citable rule by ID
	warnings Errors
}

type role struct {
	name        string
	line        int
	description string
	perms       perms
}

// subjectEntry is what a policy says about one principal or group key.
type subjectEntry struct {
	roles    []uint64 // bitset of role indexes
	bindings []int    // indexes into Policy.bindings
	deny     []int    // indexes into Policy.deny, ascending
}

type binding struct {
	subject     string // as explain prints it: group "X" or principal "Y"
	value       string // the group or principal as written
	isGroup     bool
	roles       []int
	line        int
	description string
}

type denyRule struct {
	subject string
	value   string
	isGroup bool
	all     bool  // no scope: covers every action
	kinds   uint8 // bitmask 1<<Kind of the actions: list
	scope   perms
	rule    Rule
}

// applies reports whether the deny rule covers a.
func (d *denyRule) applies(a *Action) bool {
	return d.all || d.kinds&(1<<a.Kind) != 0 || d.scope.covers(a)
}

// Parse compiles a policy from data; name is used in error messages and
// Decision rules. Every problem in the file is reported at once as
// Errors, sorted by line. Parse does not verify signatures or run the
// embedded tests; see Load and RunTests.
func Parse(name string, data []byte) (*Policy, error) {
	raw, errs := decodeRaw(name, data)
	if raw != nil {
		p, cerrs := compile(name, data, raw)
		errs = append(errs, cerrs...)
		if len(errs) == 0 {
			p.contentHash = "sha256:" + p.hash[:16]
			sort.SliceStable(p.warnings, func(i, j int) bool { return p.warnings[i].Line < p.warnings[j].Line })
			return p, nil
		}
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	return nil, errs
}

// File returns the name the policy was parsed under.
func (p *Policy) File() string { return p.file }

// Revision returns the declared revision, or "sha256:" and the first 12
// hex digits of the SHA-256 of the file's bytes.
func (p *Policy) Revision() string {
	if p == nil {
		return ""
	}
	return p.revision
}

// Hash returns the hex SHA-256 of the policy file's bytes.
func (p *Policy) Hash() string { return p.hash }

// ContentHash returns the short content hash audit records carry beside
// the revision: "sha256:" and the first 16 hex digits of Hash, or "" for
// a nil policy. Unlike the revision, which the file declares and an
// in-place edit may leave unchanged, it names the exact bytes loaded.
func (p *Policy) ContentHash() string {
	if p == nil {
		return ""
	}
	return p.contentHash
}

// Description returns the policy's description: text.
func (p *Policy) Description() string { return p.description }

// SignedBy returns the ID of the trusted key whose signature Load
// verified, or "" when the signature was not checked.
func (p *Policy) SignedBy() string { return p.signedBy }

// RoleNames returns the roles the policy defines, in file order.
func (p *Policy) RoleNames() []string {
	out := make([]string, len(p.roles))
	for i, r := range p.roles {
		out[i] = r.name
	}
	return out
}

// Rule returns the rule with the given ID ("deny#1",
// "role:proxy:request#2", "default-deny", ...).
func (p *Policy) Rule(id string) (Rule, bool) {
	r, ok := p.rules[id]
	return r, ok
}

// Warnings returns problems that do not stop the policy from loading:
// roles no binding grants and roles without permissions.
func (p *Policy) Warnings() []*Error { return append([]*Error(nil), p.warnings...) }

// Counts summarises a policy's size.
type Counts struct {
	// Roles, Bindings, Deny and Tests count the entries of each section.
	Roles, Bindings, Deny, Tests int
}

// Counts returns how many roles, bindings, deny rules and tests the
// policy has.
func (p *Policy) Counts() Counts {
	return Counts{Roles: len(p.roles), Bindings: len(p.bindings), Deny: len(p.deny), Tests: len(p.tests)}
}
