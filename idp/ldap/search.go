package ldap

import (
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// search runs req on pc, with the paged results control when paged.
//
// The request carries a server-side time limit in whole seconds (see
// timeLimit). Samba computes its deadline from the start of the second the
// request arrived (time(NULL) + limit, so a 1s limit may leave it a few
// milliseconds), and on a loaded 2-CPU machine it has answered
// timeLimitExceeded (LDAP result 3) for the in-chain search long before
// the limit the request carried. Such an early
// answer (within half of Timeout) says nothing about the directory, so the
// search is sent once more; a second one, or one that came after the
// time was really spent, is returned. The caller's context still bounds
// both (see Directory.once).
func (d *Directory) search(pc *pconn, req *goldap.SearchRequest, paged bool) (*goldap.SearchResult, error) {
	controls := append([]goldap.Control(nil), req.Controls...)
	start := time.Now()
	res, err := d.searchOnce(pc, req, paged)
	if goldap.IsErrorWithCode(err, goldap.LDAPResultTimeLimitExceeded) && time.Since(start) < d.cfg.Timeout/2 {
		again := *req
		again.Controls = controls // a fresh paging cookie
		res, err = d.searchOnce(pc, &again, paged)
	}
	return res, err
}

func (d *Directory) searchOnce(pc *pconn, req *goldap.SearchRequest, paged bool) (*goldap.SearchResult, error) {
	if paged {
		return pc.c.SearchWithPaging(req, d.cfg.PageSize)
	}
	return pc.c.Search(req)
}
