package ldap

import (
	"context"
	"errors"
	"fmt"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/zapgate/zapgate/idp"
)

// Directory is an idp.Directory (and idp.Closer) backed by an LDAP server
// or Active Directory domain. It is safe for concurrent use.
type Directory struct {
	cfg  Config
	pool *pool
	now  func() time.Time
}

var (
	_ idp.Directory = (*Directory)(nil)
	_ idp.Closer    = (*Directory)(nil)
)

// New validates cfg and returns a Directory. It does not connect: the
// first Lookup does, so a directory outage at start-up is not fatal.
// cfg is copied; defaults never modify the caller's value.
func New(cfg Config) (*Directory, error) {
	n, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	return &Directory{cfg: n, pool: newPool(n), now: time.Now}, nil
}

// Close closes the pooled connections.
func (d *Directory) Close() error {
	d.pool.close()
	return nil
}

// Lookup finds principal (an account name, UPN, uid or DN) and returns its
// identity with groups resolved. See the package documentation for the
// errors it returns.
func (d *Directory) Lookup(ctx context.Context, principal string) (idp.Identity, error) {
	if principal == "" {
		return idp.Identity{}, fmt.Errorf("ldap: empty principal: %w", idp.ErrNotFound)
	}
	var id idp.Identity
	err := d.withConn(ctx, fmt.Sprintf("lookup %q", principal), func(pc *pconn) error {
		var err error
		id, err = d.lookup(pc, principal)
		return err
	})
	if err != nil {
		return idp.Identity{}, err
	}
	return id, nil
}

// withConn runs fn on a pooled connection, bounded by ctx. When a pooled
// connection turns out to have died while idle (server restarted, idle
// timeout), fn runs once more on a fresh connection, with failover. Any
// error except one wrapping idp.ErrNotFound is wrapped with
// idp.ErrUnavailable; what names the operation in errors.
func (d *Directory) withConn(ctx context.Context, what string, fn func(*pconn) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ldap: %s: %w: %w", what, err, idp.ErrUnavailable)
	}
	err := d.once(ctx, what, false, fn)
	if errors.Is(err, errStalePooled) && ctx.Err() == nil {
		err = d.once(ctx, what, true, fn)
	}
	if err != nil && !errors.Is(err, idp.ErrNotFound) {
		err = fmt.Errorf("%w: %w", err, idp.ErrUnavailable)
	}
	return err
}

// errStalePooled marks a failure on a pooled connection that the server
// had closed, which withConn retries once on a fresh connection.
var errStalePooled = errors.New("pooled connection failed")

// once runs fn on one connection, bounded by ctx.
func (d *Directory) once(ctx context.Context, what string, fresh bool, fn func(*pconn) error) error {
	var pc *pconn
	var err error
	if fresh {
		pc, err = dialAny(ctx, d.cfg)
	} else {
		pc, err = d.pool.get(ctx)
	}
	if err != nil {
		return fmt.Errorf("ldap: %s: %w", what, err)
	}
	stop := context.AfterFunc(ctx, func() { pc.c.Close() })
	err = fn(pc)
	if !stop() {
		err = fmt.Errorf("ldap: %s at %s: %w", what, pc.url, ctx.Err())
	}
	// Only a connection the server closed is retried; a timeout is not,
	// so a silent server costs one Timeout, not two.
	if err != nil && pc.pooled && pc.c.IsClosing() && ctx.Err() == nil {
		err = fmt.Errorf("%w: %w", errStalePooled, err)
	}
	d.pool.put(pc, err)
	return err
}

// lookup runs the searches of one Lookup on one connection.
func (d *Directory) lookup(pc *pconn, principal string) (idp.Identity, error) {
	entry, err := d.findEntry(pc, principal)
	if err != nil {
		return idp.Identity{}, err
	}
	if d.cfg.Flavour == FlavourAD {
		// Constructed attributes (lockout, tokenGroups) are only
		// returned by base-scope reads.
		attrs := []string{"msDS-User-Account-Control-Computed"}
		if d.cfg.GroupMode == GroupsTokenGroups {
			attrs = append(attrs, "tokenGroups")
		}
		extra, err := d.readBase(pc, entry.DN, attrs)
		if err != nil {
			return idp.Identity{}, err
		}
		entry.Attributes = append(entry.Attributes, extra.Attributes...)
	}
	enabled, err := d.enabled(entry)
	if err != nil {
		return idp.Identity{}, fmt.Errorf("ldap: %s: %w", entry.DN, err)
	}
	groups, err := d.groups(pc, entry)
	if err != nil {
		return idp.Identity{}, err
	}
	return idp.Identity{
		Principal:   principal,
		DisplayName: first(entry.GetEqualFoldAttributeValues(d.cfg.DisplayAttr)),
		Groups:      groups,
		Enabled:     enabled,
		Source:      "ldap",
		FetchedAt:   d.now(),
	}, nil
}

// entryAttrs are the attributes read from a principal's entry.
func (d *Directory) entryAttrs() []string {
	attrs := []string{d.cfg.DisplayAttr, "memberOf"}
	if d.cfg.Flavour == FlavourAD {
		return append(attrs, "userAccountControl", "accountExpires")
	}
	return append(attrs, "pwdAccountLockedTime")
}

// findEntry returns the single entry for principal: a base-scope read for
// a DN inside BaseDN, else a subtree search with the escaped filter.
func (d *Directory) findEntry(pc *pconn, principal string) (*goldap.Entry, error) {
	if looksLikeDN(principal) {
		return d.findDN(pc, principal)
	}
	filter := principalFilter(d.cfg.PrincipalFilter, principal)
	req := goldap.NewSearchRequest(d.cfg.BaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		0, d.timeLimit(), false, filter, d.entryAttrs(), nil)
	res, err := d.search(pc, req, false)
	if err != nil && !(goldap.IsErrorWithCode(err, goldap.LDAPResultReferral) && res != nil) {
		return nil, fmt.Errorf("ldap: search %s for %q at %s: %w", d.cfg.BaseDN, principal, pc.url, err)
	}
	switch n := len(res.Entries); n {
	case 0:
		return nil, fmt.Errorf("ldap: no entry for %q under %s: %w", principal, d.cfg.BaseDN, idp.ErrNotFound)
	case 1:
		return res.Entries[0], nil
	default:
		return nil, fmt.Errorf("ldap: principal %q matches %d entries under %s at %s (filter %s); expected exactly one", principal, n, d.cfg.BaseDN, pc.url, filter)
	}
}

// findDN reads a DN principal, which must lie inside BaseDN.
func (d *Directory) findDN(pc *pconn, principal string) (*goldap.Entry, error) {
	dn, _ := goldap.ParseDN(principal)
	base, _ := goldap.ParseDN(d.cfg.BaseDN)
	if !base.EqualFold(dn) && !base.AncestorOfFold(dn) {
		return nil, fmt.Errorf("ldap: %q is outside base_dn %s: %w", principal, d.cfg.BaseDN, idp.ErrNotFound)
	}
	req := goldap.NewSearchRequest(principal, goldap.ScopeBaseObject, goldap.NeverDerefAliases,
		1, d.timeLimit(), false, d.accountFilter(), d.entryAttrs(), nil)
	res, err := d.search(pc, req, false)
	if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
		return nil, fmt.Errorf("ldap: no entry %q: %w", principal, idp.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("ldap: read %q at %s: %w", principal, pc.url, err)
	}
	if len(res.Entries) != 1 {
		// The entry exists but is not an account (a group, an OU).
		return nil, fmt.Errorf("ldap: %q is not an account (%s): %w", principal, d.accountFilter(), idp.ErrNotFound)
	}
	return res.Entries[0], nil
}

// accountFilter is what an entry read by DN must match to be a principal:
// for AD, a user-class object (users, computers, managed service
// accounts), never a group, OU or the domain itself.
func (d *Directory) accountFilter() string {
	if d.cfg.Flavour == FlavourAD {
		return "(objectClass=user)"
	}
	return "(objectClass=*)"
}

// readBase reads one entry's attributes with a base-scope search.
func (d *Directory) readBase(pc *pconn, dn string, attrs []string) (*goldap.Entry, error) {
	req := goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases,
		1, d.timeLimit(), false, "(objectClass=*)", attrs, nil)
	res, err := d.search(pc, req, false)
	if err != nil {
		return nil, fmt.Errorf("ldap: read %q at %s: %w", dn, pc.url, err)
	}
	if len(res.Entries) != 1 {
		return nil, fmt.Errorf("ldap: read %q at %s: %d entries", dn, pc.url, len(res.Entries))
	}
	return res.Entries[0], nil
}

// enabled decides the account state from the entry's attributes.
func (d *Directory) enabled(e *goldap.Entry) (bool, error) {
	if d.cfg.Flavour == FlavourGeneric {
		return len(e.GetEqualFoldAttributeValues("pwdAccountLockedTime")) == 0, nil
	}
	st, err := adAccountState(
		first(e.GetEqualFoldAttributeValues("userAccountControl")),
		first(e.GetEqualFoldAttributeValues("accountExpires")),
		first(e.GetEqualFoldAttributeValues("msDS-User-Account-Control-Computed")),
		d.now())
	return st.enabled(), err
}

// timeLimit is the server-side search time limit in seconds: Timeout
// rounded up, plus one. Samba's deadline is the start of the current
// second plus the limit, so a limit of exactly Timeout could stop a search
// up to a second before the client's own Timeout; the client-side Timeout
// is the bound that counts.
func (d *Directory) timeLimit() int {
	return int((d.cfg.Timeout+time.Second-1)/time.Second) + 1
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
