package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	zmq "github.com/pebbe/zmq4"
	"github.com/spf13/cobra"
	"github.com/zapgate/zapgate/certs"
	"github.com/zapgate/zapgate/zap"
)

func newDoctorCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check the configuration, key material and ZAP server before going live",
		Long: `doctor loads the configuration strictly, reads the key registry (reporting
every file it cannot load), loads the broker's secret certificate (refusing
group/other permissions), and starts a ZAP server in a scratch context to
prove it answers. It prints one line per check and exits non-zero if any
check fails. Later issues add directory, policy and audit checks.`,
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
			bindings, errs := certs.List(cfg.Keys.Registry)
			for _, e := range errs {
				report("key registry "+cfg.Keys.Registry, e)
			}
			if len(errs) == 0 {
				report(fmt.Sprintf("key registry %s (%d bindings)", cfg.Keys.Registry, len(bindings)), nil)
			}
			_, err = certs.LoadSecret(cfg.Keys.ServerSecret)
			report("broker secret certificate "+cfg.Keys.ServerSecret, err)
			report("ZAP server self-test", zapSelfTest())
			if failed > 0 {
				fmt.Fprintf(out, "%d check(s) failed\n", failed)
				return exitCode(1)
			}
			return nil
		},
	}
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
