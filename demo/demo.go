// Package demo runs zapgate's self-contained demonstration: in a temporary
// directory it creates a broker key, a key registry with one enrolled node,
// starts the ZAP server, and shows over real CURVE connections on 127.0.0.1
// that the enrolled node is accepted with its principal, an unknown key is
// refused, and the enrolled key is refused once revoked.
package demo

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/broker/authn"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/idp/static"
	"github.com/zapgate/zapgate/policy"
	"github.com/zapgate/zapgate/zap"
)

// Options configure a demo run.
type Options struct {
	// Out receives the narrative.
	Out io.Writer
	// Logger receives the components' logs (nil discards them).
	Logger *slog.Logger
	// Dir is the working directory; empty means a fresh temporary
	// directory that is removed afterwards.
	Dir string
}

// Run performs the demonstration and returns an error if any step did not
// behave as a secure broker must.
func Run(opts Options) (err error) {
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir := opts.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "zapgate-demo-"); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		defer os.RemoveAll(dir)
	}
	s, err := setup(dir, out, log)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.close()) }()

	step(out, 3, "node PROXY01$ connects with its enrolled key")
	if err := s.expectAccepted(s.proxy, "PROXY01$"); err != nil {
		return err
	}
	step(out, 4, "a node with a key nobody enrolled connects")
	if err := s.expectRefused(s.intruder); err != nil {
		return err
	}
	step(out, 5, "the security team revokes PROXY01$: zapgate keys revoke 'PROXY01$'")
	b, moved, err := certs.Revoke(s.registryDir, "PROXY01$")
	if err != nil {
		return fmt.Errorf("demo: revoke: %w", err)
	}
	fmt.Fprintf(out, "   moved %s to %s\n", b.Principal, moved)
	step(out, 6, "PROXY01$ reconnects with the revoked key")
	if err := s.expectRefused(s.proxy); err != nil {
		return err
	}
	st := s.zap.Stats()
	fmt.Fprintf(out, "\nZAP server: %d requests answered (one is its start-up self-test); accepted 1 enrolled key, refused an unknown and a revoked key.\n", st.Requests)
	fmt.Fprintln(out, "demo passed")
	return nil
}

// setup creates keys and the registry, starts the ZAP server and binds the
// CURVE socket — in that order, so no CURVE socket exists before the ZAP
// server has proved it answers.
func setup(dir string, out io.Writer, log *slog.Logger) (*session, error) {
	s := &session{registryDir: dir + "/registry", out: out}
	if err := os.MkdirAll(s.registryDir, 0o755); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	step(out, 1, "generate keys and enroll one node")
	var err error
	if s.server, err = newCert(dir, "broker", ""); err != nil {
		return nil, err
	}
	if s.proxy, err = newCert(dir, "proxy01", "PROXY01$"); err != nil {
		return nil, err
	}
	if s.intruder, err = newCert(dir, "intruder", ""); err != nil {
		return nil, err
	}
	b, err := certs.AddCert(s.registryDir, dir+"/proxy01.key", "PROXY01$", certs.AddOptions{Source: "demo", Note: "enrolled by zapgate demo"})
	if err != nil {
		return nil, fmt.Errorf("demo: enroll: %w", err)
	}
	fmt.Fprintf(out, "   broker key %s\n   enrolled PROXY01$ key %s in %s\n   intruder key %s (not enrolled)\n",
		s.server.Public.Fingerprint(), b.Key.Fingerprint(), b.File, s.intruder.Public.Fingerprint())

	if s.registry, err = certs.Open(s.registryDir, certs.Options{Logger: log}); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if s.ctx, err = zmq.NewContext(); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	step(out, 2, "start the ZAP server and prove it answers, then bind the CURVE socket")
	chain, err := s.chain(dir, log)
	if err != nil {
		return s, err
	}
	s.zap, err = zap.NewServer(s.ctx, authn.New(chain), zap.Config{Properties: authn.Properties(), Logger: log})
	if err != nil {
		return s, fmt.Errorf("demo: %w", err)
	}
	if err := s.zap.Start(); err != nil {
		return s, fmt.Errorf("demo: %w", err)
	}
	if err := s.bind(); err != nil {
		return s, err
	}
	fmt.Fprintf(out, "   ZAP self-test passed; CURVE ROUTER listening on %s\n", s.endpoint)
	return s, nil
}

func newCert(dir, name, principal string) (*certs.Cert, error) {
	pub, sec, err := certs.GenerateKeypair()
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	c := &certs.Cert{Public: pub, Secret: &sec}
	if principal != "" {
		c.Metadata.Set("principal", principal)
	}
	if _, _, err := c.Save(dir, name); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	return c, nil
}

func step(out io.Writer, n int, what string) {
	fmt.Fprintf(out, "\n[%d] %s\n", n, what)
}

// handshakeWait bounds how long the demo waits for one handshake outcome.
const handshakeWait = 3 * time.Second

// demoDirectory and demoPolicy are the embedded defaults the demo runs on.
const (
	demoDirectory = `version: 1
principals:
  "PROXY01$": {display_name: Backup proxy 01, groups: ["okta:backup-proxies"]}
`
	demoPolicy = `version: 1
revision: demo
roles:
  proxy:
    connect: {from: ["127.0.0.0/8", "::1/128"]}
    serve: [proxy]
bindings:
  - {group: "okta:backup-proxies", roles: [proxy]}
`
)

// chain builds the authentication chain: the registry, a static directory
// and policy written into dir, and an audit log there.
func (s *session) chain(dir string, log *slog.Logger) (authn.Chain, error) {
	dpath := dir + "/directory.yaml"
	if err := os.WriteFile(dpath, []byte(demoDirectory), 0o644); err != nil {
		return authn.Chain{}, fmt.Errorf("demo: %w", err)
	}
	d, err := static.Open(dpath, static.Options{Logger: log})
	if err != nil {
		return authn.Chain{}, fmt.Errorf("demo: %w", err)
	}
	pol, err := policy.Parse("demo-policy.yaml", []byte(demoPolicy))
	if err != nil {
		return authn.Chain{}, fmt.Errorf("demo: %w", err)
	}
	if s.audit, err = audit.Open(audit.Options{Dir: dir + "/audit", Logger: log}); err != nil {
		return authn.Chain{}, fmt.Errorf("demo: %w", err)
	}
	return authn.Chain{Keys: s.registry, Directory: d, Policy: pol, Audit: s.audit, Logger: log}, nil
}
