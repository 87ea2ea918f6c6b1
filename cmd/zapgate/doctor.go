package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/spf13/cobra"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/config"
	"github.com/zapgate/zapgate/idp"
	"github.com/zapgate/zapgate/idp/ldap"
	"github.com/zapgate/zapgate/idp/okta"
	"github.com/zapgate/zapgate/idp/static"
	"github.com/zapgate/zapgate/policy"
	"github.com/zapgate/zapgate/server"
	"github.com/zapgate/zapgate/zap"
)

func newDoctorCmd(g *globals) *cobra.Command {
	var principals []string
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the configuration, key material and ZAP server before going live",
		Long: `doctor loads the configuration strictly, reads the key registry (reporting
every file it cannot load, and every file or directory refused because another
user may change it: run doctor as the broker's user or root), loads the broker's secret certificate (refusing
group/other permissions), and starts a ZAP server in a scratch context to
prove it answers; it loads the directory and the policy (with its signature
when required, and its embedded tests) and checks that the audit directory
is writable. It prints one line per check and exits non-zero if any check
fails.

With --principal NAME (repeatable), doctor also looks each principal up in
the configured directory, uncached, as a handshake would: it fails if the
principal filter does not find exactly one account, and reports whether the
account is enabled, how many groups (nested groups included) it has, and how
long the lookup took, cold and again on a warm connection.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			failed := 0
			report := func(name string, err error) {
				if err != nil {
					failed++
					fmt.Fprintf(out, "FAIL  %s: %v\n", name, err)
					return
				}
				fmt.Fprintf(out, "ok    %s\n", name)
			}
			cfg, err := g.loadConfig()
			report("configuration", err)
			if err != nil {
				return exitCode(1)
			}
			if cfg.Keys.Source == "directory" {
				report("keys: in the directory (keys.source directory)", nil)
			} else {
				for _, c := range checkRegistry(cfg.Keys.Registry) {
					report(c.name, c.err)
				}
			}
			_, err = certs.LoadSecret(cfg.Keys.ServerSecret)
			report("broker secret certificate "+cfg.Keys.ServerSecret, err)
			if cfg.Directory.Type == "ldap" {
				for _, c := range checkLDAP(cmd, cfg) {
					report(c.name, c.err)
				}
			} else if cfg.Directory.Type == "okta" {
				for _, c := range checkOkta(cmd, cfg) {
					report(c.name, c.err)
				}
			} else {
				report("directory "+cfg.Directory.Type, checkDirectory(cfg))
			}
			if len(principals) > 0 {
				for _, c := range checkPrincipals(cmd.Context(), cfg, principals) {
					report(c.name, c.err)
				}
			} else {
				fmt.Fprintln(out, "note  no test principal given: add --principal NAME to check the principal filter and time a group lookup")
			}
			report("policy "+cfg.Policy.File, checkPolicy(cfg))
			report("audit directory "+cfg.Audit.Dir, checkAuditDir(cfg.Audit.Dir))
			report("ZAP server self-test", zapSelfTest())
			if failed > 0 {
				fmt.Fprintf(out, "%d check(s) failed\n", failed)
				return exitCode(1)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&principals, "principal", nil, "look this principal up in the directory and time the lookup (repeatable)")
	return cmd
}

// zapSelfTest starts and stops a ZAP server in a scratch context.
func zapSelfTest() error {
	ctx, err := zmq.NewContext()
	if err != nil {
		return err
	}
	deny := zap.AuthenticatorFunc(func(context.Context, *zap.Request) (zap.Result, error) {
		return zap.Result{Status: zap.StatusDenied, StatusText: "doctor"}, nil
	})
	srv, err := zap.NewServer(ctx, deny, zap.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil {
		err = srv.Start()
		if err == nil {
			err = srv.Close()
		}
	}
	if terr := ctx.Term(); err == nil {
		err = terr
	}
	return err
}

// checkDirectory loads the configured directory once.
func checkDirectory(cfg *config.Config) error {
	switch cfg.Directory.Type {
	case "static":
		_, err := static.Open(cfg.Directory.Static.File, static.Options{Logger: slog.New(slog.DiscardHandler)})
		return err
	}
	return fmt.Errorf("directory type %q is not built in", cfg.Directory.Type)
}

// namedCheck is one doctor line.
type namedCheck struct {
	name string
	err  error
}

// checkRegistry reads the key registry in dir as the broker would: one
// failed check per problem (a malformed file, a file or directory refused
// by the strict modes, a missing directory), else one passed check with the
// number of bindings.
func checkRegistry(dir string) []namedCheck {
	bindings, errs := certs.List(dir)
	if len(errs) == 0 {
		return []namedCheck{{name: fmt.Sprintf("key registry %s (%d bindings)", dir, len(bindings))}}
	}
	out := make([]namedCheck, len(errs))
	for i, e := range errs {
		out[i] = namedCheck{name: "key registry " + dir, err: e}
	}
	return out
}

// checkLDAP reads the bind password and connects and binds to every URL.
func checkLDAP(cmd *cobra.Command, cfg *config.Config) []namedCheck {
	l := cfg.Directory.LDAP
	lc := l.Config
	if l.BindPasswordFile != "" || l.BindPasswordEnv != "" {
		pw, err := ldap.ReadSecret(l.BindPasswordFile, l.BindPasswordEnv)
		if err != nil {
			return []namedCheck{{"ldap bind password", err}}
		}
		lc.BindPassword = pw
	}
	d, err := ldap.New(lc)
	if err != nil {
		return []namedCheck{{"ldap configuration", err}}
	}
	defer d.Close()
	var out []namedCheck
	for _, c := range d.CheckURLs(cmd.Context()) {
		out = append(out, namedCheck{fmt.Sprintf("ldap %s: connect, TLS and bind as %q (%s)", c.URL, lc.BindDN, c.Latency.Round(time.Millisecond)), c.Err})
	}
	return out
}

// checkOkta reads the key or API token, fetches a token and calls the API.
func checkOkta(cmd *cobra.Command, cfg *config.Config) []namedCheck {
	d, err := okta.New(cfg.Directory.Okta.Config)
	if err != nil {
		return []namedCheck{{"okta configuration", err}}
	}
	defer d.Close()
	var out []namedCheck
	for _, c := range d.CheckAPI(cmd.Context()) {
		out = append(out, namedCheck{fmt.Sprintf("okta %s (%s)", c.What, c.Latency.Round(time.Millisecond)), c.Err})
	}
	return out
}

// checkPolicy loads the policy as the broker would.
func checkPolicy(cfg *config.Config) error {
	keys, err := policy.LoadTrustedKeys(cfg.Policy.TrustedKeys)
	if err != nil {
		return err
	}
	_, err = policy.Load(cfg.Policy.File, policy.LoadOptions{RequireSignature: cfg.Policy.RequireSignature, TrustedKeys: keys, RunTests: true})
	return err
}

// checkAuditDir proves the audit directory exists (or can be created) and
// accepts a file.
func checkAuditDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".doctor-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// checkPrincipals looks each principal up in the configured directory,
// without the cache, twice: cold (new connection) and warm.
func checkPrincipals(ctx context.Context, cfg *config.Config, principals []string) []namedCheck {
	name := "directory " + cfg.Directory.Type
	open, ok := server.Directories[cfg.Directory.Type]
	if !ok {
		return []namedCheck{{name, fmt.Errorf("directory type %q is not built in", cfg.Directory.Type)}}
	}
	d, err := open(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return []namedCheck{{name, err}}
	}
	if c, ok := d.(idp.Closer); ok {
		defer c.Close()
	}
	if u, ok := d.(interface{ Unwrap() idp.Directory }); ok {
		d = u.Unwrap() // measure the directory, not the cache
	}
	var out []namedCheck
	for _, p := range principals {
		var (
			id         idp.Identity
			cold, warm time.Duration
		)
		for i := range 2 {
			qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			start := time.Now()
			id, err = d.Lookup(qctx, p)
			cancel()
			if i == 0 {
				cold = time.Since(start)
			} else {
				warm = time.Since(start)
			}
			if err != nil {
				break
			}
		}
		label := fmt.Sprintf("%s: principal %q", name, p)
		switch {
		case errors.Is(err, idp.ErrNotFound):
			out = append(out, namedCheck{label, fmt.Errorf("not found: the principal filter matches no account (%v)", err)})
		case err != nil:
			out = append(out, namedCheck{label, err})
		default:
			state := "enabled"
			if !id.Enabled {
				state = "NOT enabled (disabled, expired, locked or suspended): its handshakes are refused"
			}
			out = append(out, namedCheck{fmt.Sprintf("%s found, %s, %d groups; lookup with groups %s cold, %s warm",
				label, state, len(id.Groups), cold.Round(time.Millisecond), warm.Round(100*time.Microsecond)), nil})
		}
	}
	return out
}
