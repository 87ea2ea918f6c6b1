// Package node holds what the example programs share: the flags that
// locate the broker and the node's certificate, and the Client built from
// them.
package node

import (
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/zapgate/zapgate/broker/client"
	"github.com/zapgate/zapgate/certs"
)

// Flags are the connection flags every example takes.
type Flags struct {
	endpoint, brokerCert, cert *string
	verbose                    *bool
}

// Register adds -endpoint, -broker-cert, -cert and -v to the default flag
// set.
func Register() *Flags {
	return &Flags{
		endpoint:   flag.String("endpoint", "tcp://127.0.0.1:5555", "the broker's endpoint"),
		brokerCert: flag.String("broker-cert", "broker.key", "the broker's public certificate (zcert)"),
		cert:       flag.String("cert", "node.key_secret", "this node's secret certificate (zcert, mode 0600)"),
		verbose:    flag.Bool("v", false, "log the library's connection events"),
	}
}

// Client loads the certificates and returns a connected Client.
func (f *Flags) Client() (*client.Client, error) {
	broker, err := certs.LoadPublic(*f.brokerCert)
	if err != nil {
		return nil, fmt.Errorf("broker certificate: %w", err)
	}
	me, err := certs.LoadSecret(*f.cert)
	if err != nil {
		return nil, fmt.Errorf("node certificate: %w", err)
	}
	log := slog.New(slog.DiscardHandler)
	if *f.verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return client.New(client.Config{Endpoint: *f.endpoint, ServerKey: broker.Public,
		PublicKey: me.Public, SecretKey: *me.Secret, Logger: log})
}

// Fatal prints err and exits with status 1.
func Fatal(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
