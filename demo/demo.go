// Package demo runs zapgate's self-contained demonstration on 127.0.0.1:
// in a temporary directory it creates keys, a key registry, the embedded
// static directory and policy, starts the real broker (the same code as
// zapgate serve), then plays a backup control plane — a backup server, a
// proxy, a repository, a node whose group has no role and a node with an
// unknown key — and shows what was relayed, what was refused and why, a
// live revocation, and the audit trail.
package demo

import (
	"context"
	_ "embed" // the demo's directory and policy
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/config"
	"github.com/zapgate/zapgate/server"
)

//go:embed policy.yaml
var demoPolicy []byte

//go:embed directory.yaml
var demoDirectory []byte

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

// nodes are the demo's principals and their key file names.
var nodes = []struct{ file, principal string }{
	{"backup01", "BACKUP01$"}, {"proxy01", "PROXY01$"}, {"repo01", "REPO01$"}, {"intern01", "INTERN01$"},
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
	cfg, err := prepare(dir, out)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n[2] start the broker (zapgate serve): audit log, registry, directory, policy, ZAP self-test, then the CURVE socket\n")
	srv, err := server.Start(cfg, log)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(out, "    listening on %s; health and metrics on http://%s\n", srv.Endpoint(), srv.AdminAddress())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	sc := &scenario{out: out, dir: dir, endpoint: srv.Endpoint(), registry: cfg.Keys.Registry, log: log}
	runErr := sc.run()
	sc.closeNodes()
	cancel()
	stopErr := <-done
	if err := errors.Join(runErr, stopErr); err != nil {
		return err
	}
	if err := showAudit(out, cfg.Audit.Dir); err != nil {
		return err
	}
	fmt.Fprintln(out, "\ndemo passed: every grant and refusal above is in the verified audit log")
	return nil
}

// prepare writes keys, registry, directory, policy and a configuration.
func prepare(dir string, out io.Writer) (*config.Config, error) {
	fmt.Fprintf(out, "[1] set up in %s\n", dir)
	reg := filepath.Join(dir, "registry")
	if err := os.MkdirAll(reg, 0o755); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	for _, n := range append(nodes, struct{ file, principal string }{"broker", ""}, struct{ file, principal string }{"stranger", ""}) {
		c, err := certs.NewCert()
		if err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		if _, _, err := c.Save(dir, n.file); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		if n.principal == "" {
			continue
		}
		if _, err := certs.AddCert(reg, filepath.Join(dir, n.file+".key"), n.principal, certs.AddOptions{Source: "demo"}); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		fmt.Fprintf(out, "    enrolled %-10s key %s\n", n.principal, c.Public.Fingerprint())
	}
	fmt.Fprintln(out, "    stranger has a key nobody enrolled; INTERN01$ is enrolled but its group has no role")
	files := map[string][]byte{"policy.yaml": demoPolicy, "directory.yaml": demoDirectory}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
	}
	cfg := config.Defaults()
	cfg.Keys = config.Keys{Registry: reg, ServerSecret: filepath.Join(dir, "broker.key_secret")}
	cfg.Broker.Listen = "tcp://127.0.0.1:*"
	cfg.Broker.NoWorkerWait = 500 * time.Millisecond
	cfg.Admin.Listen = "127.0.0.1:0"
	cfg.Directory.Static.File = filepath.Join(dir, "directory.yaml")
	cfg.Policy.File = filepath.Join(dir, "policy.yaml")
	cfg.Audit.Dir = filepath.Join(dir, "audit")
	return &cfg, nil
}
