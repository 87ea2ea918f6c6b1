package oktatest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// serve routes one request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	endpoint, segs := route(r)
	s.mu.Lock()
	s.counts[endpoint]++
	s.inflight++
	s.maxIn = max(s.maxIn, s.inflight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inflight--
		s.mu.Unlock()
	}()
	switch endpoint {
	case EndpointToken:
		s.rateHeaders(w, endpoint)
		s.token(w, r)
		return
	case "":
		writeError(w, http.StatusNotFound, "E0000022", "The endpoint does not support the provided HTTP method")
		return
	}
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "E0000022", "The endpoint does not support the provided HTTP method")
		return
	}
	if !s.injected(w, r, endpoint) {
		return
	}
	if !s.rateHeaders(w, endpoint) {
		writeError(w, http.StatusTooManyRequests, "E0000047", "API call exceeded rate limit due to too many requests.")
		return
	}
	if code, sum := s.authorize(r); code != 0 {
		writeError(w, code, map[int]string{401: "E0000011", 403: "E0000006"}[code], sum)
		return
	}
	switch endpoint {
	case EndpointUser:
		s.getUser(w, segs[0])
	case EndpointGroups:
		s.userGroups(w, r, segs[0])
	case EndpointUsers:
		s.listUsers(w, r)
	}
}

// route names the endpoint of r and returns its unescaped path segments
// after /api/v1/users/.
func route(r *http.Request) (string, []string) {
	if r.URL.Path == "/oauth2/v1/token" {
		return EndpointToken, nil
	}
	p := r.URL.EscapedPath()
	if p == "/api/v1/users" {
		return EndpointUsers, nil
	}
	rest, ok := strings.CutPrefix(p, "/api/v1/users/")
	if !ok {
		return "", nil
	}
	var segs []string
	for _, e := range strings.Split(rest, "/") {
		v, err := url.PathUnescape(e)
		if err != nil || v == "" {
			return "", nil
		}
		segs = append(segs, v)
	}
	switch {
	case len(segs) == 1:
		return EndpointUser, segs
	case len(segs) == 2 && segs[1] == "groups":
		return EndpointGroups, segs
	}
	return "", nil
}

// injected applies the 429, status and delay knobs; it reports whether
// the request goes on.
func (s *Server) injected(w http.ResponseWriter, r *http.Request, endpoint string) bool {
	s.mu.Lock()
	delay := s.delay
	fail429 := s.fail429 > 0
	if fail429 {
		s.fail429--
	}
	code := 0
	if !fail429 && s.failN != 0 {
		code = s.failCode
		if s.failN > 0 {
			s.failN--
		}
	}
	limit := s.limit
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return false
		}
	}
	switch {
	case fail429:
		h := w.Header()
		h.Set("X-Rate-Limit-Limit", strconv.Itoa(limit))
		h.Set("X-Rate-Limit-Remaining", "0")
		h.Set("X-Rate-Limit-Reset", strconv.FormatInt(time.Now().Unix(), 10))
		writeError(w, http.StatusTooManyRequests, "E0000047", "API call exceeded rate limit due to too many requests.")
		return false
	case code != 0:
		writeError(w, code, "E0000009", fmt.Sprintf("Internal Server Error (injected %d on %s)", code, endpoint))
		return false
	}
	return true
}

// rateHeaders counts the request in its endpoint's window, sets the
// X-Rate-Limit headers and reports whether the window had room.
func (s *Server) rateHeaders(w http.ResponseWriter, endpoint string) bool {
	s.mu.Lock()
	now := time.Now()
	b := s.buckets[endpoint]
	if b == nil || !now.Before(b.start.Add(s.window)) {
		b = &bucket{start: now}
		s.buckets[endpoint] = b
	}
	b.used++
	remaining := max(s.limit-b.used, 0)
	reset := b.start.Add(s.window)
	resetSec := reset.Unix()
	if reset.Nanosecond() > 0 {
		resetSec++
	}
	ok := b.used <= s.limit
	limit := s.limit
	s.mu.Unlock()
	h := w.Header()
	h.Set("X-Rate-Limit-Limit", strconv.Itoa(limit))
	h.Set("X-Rate-Limit-Remaining", strconv.Itoa(remaining))
	h.Set("X-Rate-Limit-Reset", strconv.FormatInt(resetSec, 10))
	return ok
}

// authorize checks the Authorization header: a live bearer token with
// okta.users.read, or a known SSWS token. It returns 0 or the status and
// summary of the refusal.
func (s *Server) authorize(r *http.Request) (int, string) {
	h := r.Header.Get("Authorization")
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok, ok := strings.CutPrefix(h, "SSWS "); ok {
		if s.apiToks[tok] {
			return 0, ""
		}
		return http.StatusUnauthorized, "Invalid token provided"
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return http.StatusUnauthorized, "Invalid token provided"
	}
	t, ok := s.tokens[tok]
	if !ok || !time.Now().Before(t.expiry) {
		return http.StatusUnauthorized, "Invalid token provided"
	}
	if !t.scopes["okta.users.read"] {
		return http.StatusForbidden, "You do not have permission to perform the requested action"
	}
	return 0, ""
}

// userJSON renders a user as Okta does (the fields zapgate reads and a
// few more).
func userJSON(u *User) map[string]any {
	p := map[string]any{"login": u.Login, "email": u.Login}
	for k, v := range u.Profile {
		p[k] = v
	}
	return map[string]any{
		"id": u.ID, "status": u.Status, "created": "2026-01-01T00:00:00.000Z",
		"type": map[string]any{"id": "oty1"}, "profile": p,
		"credentials": map[string]any{"provider": map[string]any{"type": "OKTA", "name": "OKTA"}},
		"_links":      map[string]any{"self": map[string]any{"href": "/api/v1/users/" + u.ID}},
	}
}

// getUser answers GET /api/v1/users/{id, login or short name}.
func (s *Server) getUser(w http.ResponseWriter, key string) {
	s.mu.Lock()
	u := s.users[key]
	if u == nil {
		u = s.byLogin(key)
	}
	if u == nil && !strings.Contains(key, "@") {
		var found []*User
		for _, id := range s.order {
			c := s.users[id]
			if short, _, ok := strings.Cut(c.Login, "@"); ok && strings.EqualFold(short, key) {
				found = append(found, c)
			}
		}
		if len(found) == 1 {
			u = found[0]
		}
	}
	if strings.Contains(key, "/") {
		// Okta: "Logins with a / character can only be fetched by id
		// due to URL issues with escaping the / character."
		u = nil
	}
	var body map[string]any
	if u != nil {
		body = userJSON(u)
	}
	s.mu.Unlock()
	if body == nil {
		writeError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+key+" (User)")
		return
	}
	writeJSON(w, body)
}

// userGroups answers GET /api/v1/users/{id}/groups (by id only).
func (s *Server) userGroups(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	u := s.users[id]
	var all []any
	if u != nil {
		for _, gid := range s.members[id] {
			all = append(all, map[string]any{
				"id": gid, "type": "OKTA_GROUP", "objectClass": []string{"okta:user_group"},
				"profile": map[string]any{"name": s.groups[gid], "description": ""},
			})
		}
	}
	s.mu.Unlock()
	if u == nil {
		writeError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+id+" (User)")
		return
	}
	s.page(w, r, all)
}

// search is the one search form supported: profile.ATTR eq "VALUE".
var search = regexp.MustCompile(`^profile\.([A-Za-z][A-Za-z0-9_]*) eq "((?:[^"\\]|\\.)*)"$`)

// loginFilter is the one filter form supported: profile.login eq "VALUE".
var loginFilter = regexp.MustCompile(`^profile\.login eq "((?:[^"\\]|\\.)*)"$`)

// escaped is one backslash escape in a quoted expression value.
var escaped = regexp.MustCompile(`\\(.)`)

// unquote undoes the escaping of a quoted expression value.
func unquote(v string) string { return escaped.ReplaceAllString(v, "$1") }

// listUsers answers GET /api/v1/users: with search= (every status, from
// the search index, which may be stale: SetSearchStale), with
// filter=profile.login eq "…" or with neither (then DEPROVISIONED users
// are left out, as Okta does).
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var attr, value, login string
	filtered := false
	if expr := q.Get("search"); expr != "" {
		m := search.FindStringSubmatch(expr)
		if m == nil {
			writeError(w, http.StatusBadRequest, "E0000031", "Invalid search criteria.")
			return
		}
		attr, value = m[1], unquote(m[2])
	} else if expr := q.Get("filter"); expr != "" {
		m := loginFilter.FindStringSubmatch(expr)
		if m == nil {
			writeError(w, http.StatusBadRequest, "E0000031", "Invalid search criteria.")
			return
		}
		login, filtered = unquote(m[1]), true
	}
	s.mu.Lock()
	users := s.users
	if attr != "" && s.index != nil {
		users = s.index
	}
	var all []any
	for _, id := range s.order {
		u := users[id]
		switch {
		case u == nil:
		case attr == "" && u.Status == "DEPROVISIONED":
		case attr != "" && !matches(u.Profile[attr], value):
		case filtered && !strings.EqualFold(u.Login, login):
		default:
			all = append(all, userJSON(u))
		}
	}
	s.mu.Unlock()
	s.page(w, r, all)
}

// matches compares a string or string-array attribute case-insensitively.
func matches(v any, want string) bool {
	switch v := v.(type) {
	case string:
		return strings.EqualFold(v, want)
	case []string:
		for _, e := range v {
			if strings.EqualFold(e, want) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok && strings.EqualFold(s, want) {
				return true
			}
		}
	}
	return false
}

// page writes one page of items from limit and the after cursor (an
// offset here; opaque to clients) with Link headers.
func (s *Server) page(w http.ResponseWriter, r *http.Request, items []any) {
	q := r.URL.Query()
	s.mu.Lock()
	size := s.pageSize
	s.mu.Unlock()
	if l, err := strconv.Atoi(q.Get("limit")); err == nil && l > 0 && l < size {
		size = l
	}
	start := 0
	if a := q.Get("after"); a != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(a, "c"))
		if err != nil || n < 0 || n > len(items) {
			writeError(w, http.StatusBadRequest, "E0000001", "Api validation failed: after")
			return
		}
		start = n
	}
	end := min(start+size, len(items))
	self := s.URL + r.URL.RequestURI()
	w.Header().Add("Link", "<"+self+">; rel=\"self\"")
	if end < len(items) {
		q.Set("after", "c"+strconv.Itoa(end))
		next := *r.URL
		next.RawQuery = q.Encode()
		w.Header().Add("Link", "<"+s.URL+next.RequestURI()+">; rel=\"next\"")
	}
	page := items[start:end]
	if page == nil {
		page = []any{}
	}
	writeJSON(w, page)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// writeError writes an error in Okta's format.
func writeError(w http.ResponseWriter, code int, errorCode, summary string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{
		"errorCode": errorCode, "errorSummary": summary, "errorLink": errorCode,
		"errorId": newID("oae"), "errorCauses": []any{},
	})
}
