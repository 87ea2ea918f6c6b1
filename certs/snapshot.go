package certs

import "maps"

// Snapshot is what one load of a registry found: the bindings it trusts,
// the revoked keys, the files it refused and the state of the directory.
// Registry.Snapshot and Options.OnLoad hand it out so that changes can be
// audited by comparing two snapshots.
type Snapshot struct {
	// Dir is the registry directory.
	Dir string
	// Missing is true when the directory is gone (nothing is bound).
	Missing bool
	// DirError is why the directory itself is refused (nothing is bound),
	// or "".
	DirError string
	// Bound holds the trusted bindings by key.
	Bound map[PublicKey]Binding
	// Revoked holds what revoked/ says about each revoked key (File, and
	// Principal and RevokedBy when the file has them).
	Revoked map[PublicKey]Binding
	// Refused maps each registry file that binds nothing to why: malformed,
	// untrusted (ErrUntrusted) or one of several files binding a key.
	Refused map[string]string
}

// Snapshot returns the current state of the registry.
func (r *Registry) Snapshot() Snapshot { return r.state.Load().snapshot(r.dir) }

// snapshot copies s into a Snapshot the caller may keep.
func (s *state) snapshot(dir string) Snapshot {
	snap := Snapshot{
		Dir:     dir,
		Missing: s.missing,
		Bound:   make(map[PublicKey]Binding, len(s.byKey)),
		Revoked: maps.Clone(s.revoked),
		Refused: maps.Clone(s.files),
	}
	if s.dirErr != nil {
		snap.DirError = s.dirErr.Error()
	}
	for k, lb := range s.byKey {
		snap.Bound[k] = lb.Binding
	}
	return snap
}
