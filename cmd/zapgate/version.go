package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	zmq "github.com/pebbe/zmq4"
	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print zapgate's version, Go version and libzmq version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := version
			if v == "" {
				v = "devel"
				if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
					v = bi.Main.Version
				}
			}
			major, minor, patch := zmq.Version()
			fmt.Fprintf(cmd.OutOrStdout(), "zapgate %s\ngo %s %s/%s\nlibzmq %d.%d.%d\n",
				v, runtime.Version(), runtime.GOOS, runtime.GOARCH, major, minor, patch)
			return nil
		},
	}
}
