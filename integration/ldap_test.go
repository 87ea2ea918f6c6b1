//go:build integration

package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/zapgate/zapgate/idp"
	zldap "github.com/zapgate/zapgate/idp/ldap"
)

const (
	ldapBase     = "dc=example,dc=com"
	ldapRootDN   = "cn=admin,dc=example,dc=com"
	ldapRootPW   = "rootpw"
	ldapSvcDN    = "cn=svc,ou=services,dc=example,dc=com"
	ldapSvcPW    = "svc-password"
	ldapWeirdUID = `we*ird(x)\`
	// ldapDynGroupDN is a dynamic group (groupOfURLs) of the people with
	// employeeType proxy: as seeded, carol and not dave.
	ldapDynGroupDN = "cn=proxies,ou=groups," + ldapBase
)

// slapd is an OpenLDAP server started by a test on 127.0.0.1.
type slapd struct {
	ldapURL, ldapsURL string
	caFile            string
	confFile, addr    string

	cmd    *exec.Cmd
	exited chan error
}

// start runs slapd and waits until it listens.
func (s *slapd) start(t *testing.T) {
	t.Helper()
	var logs strings.Builder
	s.cmd = exec.Command("/usr/sbin/slapd", "-h", s.ldapURL+"/ "+s.ldapsURL+"/", "-f", s.confFile, "-d", "0")
	s.cmd.Stdout, s.cmd.Stderr = &syncWriter{w: &logs}, &syncWriter{w: &logs}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting slapd: %v", err)
	}
	s.exited = make(chan error, 1)
	go func(cmd *exec.Cmd, exited chan error) { exited <- cmd.Wait() }(s.cmd, s.exited)
	if exited, err := waitListening("slapd", s.addr, s.exited, 15*time.Second); err != nil {
		if exited {
			s.cmd = nil
		}
		t.Fatalf("%v\n%s", err, logs.String())
	}
}

// stop kills slapd by PID and waits for it to exit.
func (s *slapd) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// startSlapd starts slapd (mdb backend, memberof and dynlist overlays)
// with a fresh database, TLS certificates generated for 127.0.0.1, and the
// seed entries. It is stopped by PID at cleanup.
//
// memberof stores memberOf for static groups (groupOfNames); dynlist makes
// groupOfURLs entries dynamic groups (member computed from memberURL) and,
// with "+memberOf", adds the dynamic groups to memberOf when it is read.
// The two merge: an entry's memberOf lists its static groups (stored) and
// its dynamic groups (computed), each once.
func startSlapd(t *testing.T) *slapd {
	t.Helper()
	const bin = "/usr/sbin/slapd"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s missing: run `make deps` (installs slapd and ldap-utils)", bin)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	caFile := writeTestPKI(t, dir)
	conf := fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/dyngroup.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
moduleload dynlist
pidfile %[1]s/slapd.pid
TLSCertificateFile %[1]s/server.pem
TLSCertificateKeyFile %[1]s/server.key
TLSCACertificateFile %[1]s/ca.pem
database mdb
suffix "%[2]s"
rootdn "%[3]s"
rootpw %[4]s
directory %[1]s/data
maxsize 10485760
overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
overlay dynlist
dynlist-attrset groupOfURLs memberURL member+memberOf
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
`, dir, ldapBase, ldapRootDN, ldapRootPW)
	confFile := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	port, tlsPort := freePort(t), freePort(t)
	s := &slapd{
		ldapURL:  fmt.Sprintf("ldap://127.0.0.1:%d", port),
		ldapsURL: fmt.Sprintf("ldaps://127.0.0.1:%d", tlsPort),
		caFile:   caFile,
		confFile: confFile,
		addr:     fmt.Sprintf("127.0.0.1:%d", port),
	}
	t.Cleanup(s.stop)
	s.start(t)
	s.seed(t)
	return s
}

// syncWriter serialises writes from slapd's stdout and stderr.
type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// seed adds the test entries as the root DN. Groups are added after their
// members so the memberof overlay maintains memberOf.
func (s *slapd) seed(t *testing.T) {
	t.Helper()
	c, err := goldap.DialURL(s.ldapURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind(ldapRootDN, ldapRootPW); err != nil {
		t.Fatal(err)
	}
	add := func(dn string, attrs map[string][]string) {
		t.Helper()
		r := goldap.NewAddRequest(dn, nil)
		for k, v := range attrs {
			r.Attribute(k, v)
		}
		if err := c.Add(r); err != nil {
			t.Fatalf("add %s: %v", dn, err)
		}
	}
	person := func(uid, ou, cn string) string {
		dn := fmt.Sprintf("uid=%s,ou=%s,%s", goldap.EscapeDN(uid), ou, ldapBase)
		add(dn, map[string][]string{
			"objectClass": {"inetOrgPerson"}, "uid": {uid}, "cn": {cn}, "sn": {cn},
		})
		return dn
	}
	group := func(cn string, members ...string) string {
		dn := fmt.Sprintf("cn=%s,ou=groups,%s", cn, ldapBase)
		add(dn, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {cn}, "member": members})
		return dn
	}
	add(ldapBase, map[string][]string{"objectClass": {"dcObject", "organization"}, "dc": {"example"}, "o": {"Example"}})
	for _, ou := range []string{"people", "groups", "services"} {
		add(fmt.Sprintf("ou=%s,%s", ou, ldapBase), map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {ou}})
	}
	add(ldapSvcDN, map[string][]string{
		"objectClass": {"organizationalRole", "simpleSecurityObject"}, "cn": {"svc"}, "userPassword": {ldapSvcPW},
	})
	alice := person("alice", "people", "Alice Liddell")
	person("bob", "people", "Bob")
	weird := person(ldapWeirdUID, "people", "Weird Name")
	person("dup", "people", "Dup One")
	person("dup", "services", "Dup Two")
	backup := group("backup-servers", alice)
	ops := group("ops", backup)
	group("all-staff", ops)
	group("weird-group", weird)
	// A membership cycle: cycle-a ∋ alice, cycle-b ∋ cycle-a, and then
	// cycle-a ∋ cycle-b.
	cycA := group("cycle-a", alice)
	cycB := group("cycle-b", cycA)
	mod := goldap.NewModifyRequest(cycA, nil)
	mod.Add("member", []string{cycB})
	if err := c.Modify(mod); err != nil {
		t.Fatal(err)
	}
	// A referral under the group base: searches get a continuation
	// reference, which must be ignored, not fatal.
	add("ou=elsewhere,ou=groups,"+ldapBase, map[string][]string{
		"objectClass": {"referral", "extensibleObject"}, "ou": {"elsewhere"},
		"ref": {"ldap://127.0.0.1:1/ou=elsewhere,dc=example,dc=com"},
	})
	// Enough groups for paging to take several pages.
	for i := range 25 {
		group(fmt.Sprintf("bulk-%02d", i), weird)
	}
	// A dynamic group (dynlist): the people whose employeeType is proxy.
	for uid, typ := range map[string]string{"carol": "proxy", "dave": "staff"} {
		add(fmt.Sprintf("uid=%s,ou=people,%s", uid, ldapBase), map[string][]string{
			"objectClass": {"inetOrgPerson"}, "uid": {uid}, "cn": {uid}, "sn": {uid}, "employeeType": {typ},
		})
	}
	add(ldapDynGroupDN, map[string][]string{
		"objectClass": {"groupOfURLs"}, "cn": {"proxies"},
		"memberURL": {"ldap:///ou=people," + ldapBase + "??one?(employeeType=proxy)"},
	})
}

// writeTestPKI writes ca.pem, server.pem and server.key (for 127.0.0.1 and
// localhost) into dir and returns the CA file.
func writeTestPKI(t testing.TB, dir string) string {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "zapgate test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER)
	write("server.pem", "CERTIFICATE", srvDER)
	write("server.key", "PRIVATE KEY", keyDER)
	return filepath.Join(dir, "ca.pem")
}

// config is a generic-flavour config for the server over LDAPS.
func (s *slapd) config() zldap.Config {
	return zldap.Config{
		URLs:         []string{s.ldapsURL},
		CAFile:       s.caFile,
		BindDN:       ldapSvcDN,
		BindPassword: ldapSvcPW,
		Timeout:      5 * time.Second,
		BaseDN:       ldapBase,
		Flavour:      zldap.FlavourGeneric,
		GroupBase:    "ou=groups," + ldapBase,
	}
}

func newDir(t *testing.T, cfg zldap.Config) *zldap.Directory {
	t.Helper()
	d, err := zldap.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func lookup(t *testing.T, d *zldap.Directory, principal string) (idp.Identity, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return d.Lookup(ctx, principal)
}

func groupCNs(id idp.Identity) []string {
	var cns []string
	for _, g := range id.Groups {
		dn, err := goldap.ParseDN(g)
		if err != nil {
			cns = append(cns, "!"+g)
			continue
		}
		cns = append(cns, dn.RDNs[0].Attributes[0].Value)
	}
	slices.Sort(cns)
	return cns
}

func TestLDAPGeneric(t *testing.T) {
	s := startSlapd(t)

	t.Run("transports", func(t *testing.T) {
		ldaps := s.config()
		starttls := s.config()
		starttls.URLs, starttls.StartTLS = []string{s.ldapURL}, true
		plain := s.config()
		plain.URLs, plain.InsecureNoTLS, plain.CAFile = []string{s.ldapURL}, true, ""
		for name, cfg := range map[string]zldap.Config{"ldaps": ldaps, "starttls": starttls, "plain-explicit": plain} {
			t.Run(name, func(t *testing.T) {
				id, err := lookup(t, newDir(t, cfg), "alice")
				if err != nil {
					t.Fatal(err)
				}
				if id.Principal != "alice" || id.DisplayName != "Alice Liddell" || !id.Enabled || id.Source != "ldap" || id.FetchedAt.IsZero() {
					t.Fatalf("identity = %+v", id)
				}
			})
		}
	})

	t.Run("plain bind refused unless allowed", func(t *testing.T) {
		cfg := s.config()
		cfg.URLs = []string{s.ldapURL}
		if _, err := zldap.New(cfg); err == nil || !strings.Contains(err.Error(), "insecure_no_tls") {
			t.Fatalf("New accepted plain ldap: %v", err)
		}
	})

	t.Run("untrusted certificate", func(t *testing.T) {
		for _, starttls := range []bool{false, true} {
			cfg := s.config()
			cfg.CAFile = ""
			if starttls {
				cfg.URLs, cfg.StartTLS = []string{s.ldapURL}, true
			}
			_, err := lookup(t, newDir(t, cfg), "alice")
			if !errors.Is(err, idp.ErrUnavailable) || !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("starttls=%v: err = %v, want a certificate error", starttls, err)
			}
		}
	})

	t.Run("wrong bind password", func(t *testing.T) {
		cfg := s.config()
		cfg.BindPassword = "not-the-password"
		_, err := lookup(t, newDir(t, cfg), "alice")
		if !errors.Is(err, zldap.ErrInvalidCredentials) || !errors.Is(err, idp.ErrUnavailable) {
			t.Fatalf("err = %v, want invalid credentials", err)
		}
		if !strings.Contains(err.Error(), "invalid credentials") || !strings.Contains(err.Error(), ldapSvcDN) {
			t.Fatalf("error is not clear: %v", err)
		}
		t.Logf("wrong password: %v", err)
		if strings.Contains(err.Error(), "not-the-password") {
			t.Fatalf("error leaks the password: %v", err)
		}
	})

	t.Run("memberof direct groups", func(t *testing.T) {
		id, err := lookup(t, newDir(t, s.config()), "alice")
		if err != nil {
			t.Fatal(err)
		}
		if got := groupCNs(id); !slices.Equal(got, []string{"backup-servers", "cycle-a"}) {
			t.Fatalf("groups = %v (%q)", got, id.Groups)
		}
	})

	t.Run("walk nested with cycle", func(t *testing.T) {
		cfg := s.config()
		cfg.GroupMode = zldap.GroupsWalk
		id, err := lookup(t, newDir(t, cfg), "alice")
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"all-staff", "backup-servers", "cycle-a", "cycle-b", "ops"}
		if got := groupCNs(id); !slices.Equal(got, want) {
			t.Fatalf("groups = %v, want %v", got, want)
		}
		// The group base holds a referral: make sure the server really
		// returns a continuation reference, which the walk ignored.
		c, err := goldap.DialURL(s.ldapURL)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Bind(ldapRootDN, ldapRootPW); err != nil {
			t.Fatal(err)
		}
		res, err := c.Search(goldap.NewSearchRequest("ou=groups,"+ldapBase, goldap.ScopeWholeSubtree,
			goldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
		if err != nil || len(res.Referrals) == 0 {
			t.Fatalf("no continuation reference under the group base: %v", err)
		}
		for _, g := range id.Groups {
			if !strings.HasSuffix(g, ",ou=groups,"+ldapBase) {
				t.Fatalf("group %q not a DN as the directory writes it", g)
			}
		}
	})

	t.Run("paged groups", func(t *testing.T) {
		for _, mode := range []string{zldap.GroupsWalk, zldap.GroupsMemberOf} {
			cfg := s.config()
			cfg.GroupMode, cfg.PageSize = mode, 4
			id, err := lookup(t, newDir(t, cfg), ldapWeirdUID)
			if err != nil {
				t.Fatal(err)
			}
			if len(id.Groups) != 26 {
				t.Fatalf("%s: %d groups, want 26: %v", mode, len(id.Groups), groupCNs(id))
			}
		}
	})

	t.Run("no groups", func(t *testing.T) {
		cfg := s.config()
		cfg.GroupMode = zldap.GroupsWalk
		id, err := lookup(t, newDir(t, cfg), "bob")
		if err != nil || len(id.Groups) != 0 || !id.Enabled {
			t.Fatalf("bob = %+v, %v", id, err)
		}
	})

	t.Run("injection inputs are escaped", func(t *testing.T) {
		d := newDir(t, s.config())
		for _, in := range []string{"*", "a*", "*lice", "(", ")", `\`, "alice)(uid=*", "x)(|(uid=*"} {
			_, err := lookup(t, d, in)
			if !errors.Is(err, idp.ErrNotFound) {
				t.Errorf("lookup(%q) = %v, want not found", in, err)
			}
		}
		id, err := lookup(t, d, ldapWeirdUID)
		if err != nil || id.DisplayName != "Weird Name" {
			t.Fatalf("lookup(%q) = %+v, %v", ldapWeirdUID, id, err)
		}
	})

	t.Run("dn principals", func(t *testing.T) {
		d := newDir(t, s.config())
		id, err := lookup(t, d, "uid=alice,ou=people,"+ldapBase)
		if err != nil || id.DisplayName != "Alice Liddell" {
			t.Fatalf("dn lookup = %+v, %v", id, err)
		}
		id, err = lookup(t, d, "UID=Alice, OU=People,DC=Example,DC=Com")
		if err != nil || id.DisplayName != "Alice Liddell" {
			t.Fatalf("dn lookup, other case = %+v, %v", id, err)
		}
		for _, dn := range []string{"uid=nobody,ou=people," + ldapBase, "uid=alice,dc=other,dc=org"} {
			if _, err := lookup(t, d, dn); !errors.Is(err, idp.ErrNotFound) {
				t.Errorf("lookup(%q) = %v, want not found", dn, err)
			}
		}
	})

	t.Run("unknown and ambiguous", func(t *testing.T) {
		d := newDir(t, s.config())
		if _, err := lookup(t, d, "nobody"); !errors.Is(err, idp.ErrNotFound) {
			t.Fatalf("nobody: %v", err)
		}
		_, err := lookup(t, d, "dup")
		if err == nil || errors.Is(err, idp.ErrNotFound) || !errors.Is(err, idp.ErrUnavailable) || !strings.Contains(err.Error(), "2 entries") {
			t.Fatalf("dup: %v", err)
		}
		t.Logf("ambiguous: %v", err)
	})

	t.Run("failover", func(t *testing.T) {
		cfg := s.config()
		refused := fmt.Sprintf("ldaps://127.0.0.1:%d", freePort(t))
		hung := hangingServer(t)
		cfg.URLs = []string{refused, "ldaps://" + hung, s.ldapsURL}
		cfg.Timeout = 500 * time.Millisecond
		start := time.Now()
		id, err := lookup(t, newDir(t, cfg), "alice")
		if err != nil || id.DisplayName != "Alice Liddell" {
			t.Fatalf("failover lookup = %+v, %v", id, err)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Fatalf("failover took %s", el)
		}
	})

	t.Run("ad flavour against openldap", func(t *testing.T) {
		// OpenLDAP has no AD attributes; this exercises the AD code path
		// (base-scope read of constructed attributes, account state)
		// with a uid filter and a walk.
		cfg := s.config()
		cfg.Flavour, cfg.PrincipalFilter, cfg.GroupMode, cfg.DisplayAttr = zldap.FlavourAD, "(uid=%s)", zldap.GroupsWalk, "cn"
		id, err := lookup(t, newDir(t, cfg), "alice")
		if err != nil || !id.Enabled || len(id.Groups) != 5 || id.DisplayName != "Alice Liddell" {
			t.Fatalf("ad flavour = %+v, %v", id, err)
		}
	})

	t.Run("check urls", func(t *testing.T) {
		cfg := s.config()
		refused := fmt.Sprintf("ldaps://127.0.0.1:%d", freePort(t))
		cfg.URLs = []string{s.ldapsURL, refused}
		checks := newDir(t, cfg).CheckURLs(context.Background())
		if len(checks) != 2 || checks[0].Err != nil || checks[1].Err == nil || checks[1].URL != refused {
			t.Fatalf("checks = %+v", checks)
		}
	})

	t.Run("concurrent lookups share the pool", func(t *testing.T) {
		cfg := s.config()
		cfg.GroupMode = zldap.GroupsWalk
		d := newDir(t, cfg)
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := []string{"alice", "bob", ldapWeirdUID, "nobody"}[i%4]
				_, err := lookup(t, d, p)
				if p == "nobody" && errors.Is(err, idp.ErrNotFound) {
					err = nil
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})
}

// TestLDAPReconnect stops slapd under a pooled directory and starts it
// again: lookups fail as unavailable while it is down and succeed after.
func TestLDAPReconnect(t *testing.T) {
	s := startSlapd(t)
	for _, check := range []time.Duration{time.Hour, time.Nanosecond} {
		t.Run(fmt.Sprintf("health check after %s", check), func(t *testing.T) {
			testReconnect(t, s, check)
		})
	}
}

func testReconnect(t *testing.T, s *slapd, check time.Duration) {
	cfg := s.config()
	cfg.Timeout = time.Second
	cfg.HealthCheckAfter = check
	d := newDir(t, cfg)
	for range 3 { // pooled connections, health-checked when check is short
		if _, err := lookup(t, d, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := lookup(t, d, "alice"); err != nil {
		t.Fatal(err)
	}
	s.stop()
	_, err := lookup(t, d, "alice")
	if !errors.Is(err, idp.ErrUnavailable) || errors.Is(err, idp.ErrNotFound) {
		t.Fatalf("while down: %v, want unavailable", err)
	}
	s.start(t)
	if _, err := lookup(t, d, "alice"); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	// A restart between two lookups is invisible: the dead pooled
	// connection is replaced.
	s.stop()
	s.start(t)
	if _, err := lookup(t, d, "alice"); err != nil {
		t.Fatalf("after a restart between lookups: %v", err)
	}
}

// hangingServer accepts TCP connections and never answers; it returns its
// host:port.
func hangingServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

func TestLDAPDeadlineOnSilentServer(t *testing.T) {
	addr := hangingServer(t)
	for name, mod := range map[string]func(*zldap.Config){
		"ldaps":    func(c *zldap.Config) { c.URLs = []string{"ldaps://" + addr} },
		"starttls": func(c *zldap.Config) { c.URLs, c.StartTLS = []string{"ldap://" + addr}, true },
		"plain":    func(c *zldap.Config) { c.URLs, c.InsecureNoTLS = []string{"ldap://" + addr}, true },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := zldap.Config{BaseDN: ldapBase, Flavour: zldap.FlavourGeneric, BindDN: ldapSvcDN, BindPassword: "x", Timeout: time.Minute}
			mod(&cfg)
			d := newDir(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := d.Lookup(ctx, "alice")
			if el := time.Since(start); el > 2*time.Second {
				t.Fatalf("lookup took %s despite a 300ms deadline", el)
			}
			if !errors.Is(err, idp.ErrUnavailable) || errors.Is(err, idp.ErrNotFound) {
				t.Fatalf("err = %v, want unavailable", err)
			}
		})
	}
}

// waitListening waits until addr accepts TCP connections, for the server
// called name started in the background; exitCh receives its exit. It
// returns an error when the server exits first (exited is then true, so
// the caller forgets the process) or does not listen within the time.
func waitListening(name, addr string, exitCh <-chan error, within time.Duration) (exited bool, err error) {
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return false, nil
		}
		select {
		case err := <-exitCh:
			return true, fmt.Errorf("%s exited: %v", name, err)
		default:
		}
		if time.Now().After(deadline) {
			return false, fmt.Errorf("%s did not listen on %s within %s", name, addr, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
