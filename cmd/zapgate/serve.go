package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/zapgate/zapgate/server"
)

func newServeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the broker: ZAP server, authorized Majordomo relay, audit, admin endpoint",
		Long: `serve starts zapgate from its configuration file, in the only safe order:
audit log, key registry, directory, policy, then the ZAP server, which must
prove it answers before the CURVE frontend (broker.listen) binds; last the
admin endpoint (admin.listen: /healthz, /readyz, /metrics).

Signals: SIGHUP reloads the policy, key registry and directory (a file that
fails to load is logged and counted, and the last good version keeps
serving); SIGTERM or SIGINT stops gracefully: new work is refused, requests
in flight finish, workers are sent DISCONNECT, and every audit record is
written before the process exits.`,
		Example: `  zapgate serve --config /etc/zapgate/zapgate.yaml
  zapgate serve --config zapgate.yaml --log-format json --log-component zap,transport`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			log, err := g.logger(cfg)
			if err != nil {
				return err
			}
			srv, err := server.Start(cfg, log)
			if err != nil {
				return err
			}
			log.Info("zapgate serving", "listen", srv.Endpoint(), "admin", srv.AdminAddress())
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go func() {
				for range hup {
					if err := srv.Reload(); err != nil {
						log.Error("reload on SIGHUP failed; last good versions keep serving", "error", err)
					} else {
						log.Info("reloaded on SIGHUP")
					}
				}
			}()
			return srv.Run(ctx)
		},
	}
}
