package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/zapgate/zapgate/broker/client"
	"github.com/zapgate/zapgate/certs"
)

// scenario is the demo's cast of nodes and its steps.
type scenario struct {
	out      io.Writer
	dir      string
	endpoint string
	registry string
	log      *slog.Logger
	clients  []*client.Client
	cancel   []context.CancelFunc
}

// stepTimeout bounds every request the demo makes.
const stepTimeout = 5 * time.Second

func (s *scenario) run() error {
	backup, err := s.node("backup01")
	if err != nil {
		return err
	}
	proxy, err := s.node("proxy01")
	if err != nil {
		return err
	}
	repo, err := s.node("repo01")
	if err != nil {
		return err
	}
	fmt.Fprintln(s.out, "\n[3] PROXY01$ and REPO01$ register as Majordomo workers for their services")
	s.serve(proxy, "proxy", "PROXY01$")
	s.serve(repo, "repository", "REPO01$")

	steps := []func() error{
		func() error { return s.relayed(backup, "BACKUP01$", "proxy", "task.start", "job-7") },
		func() error { return s.relayed(backup, "BACKUP01$", "repository", "repo.list", "") },
		func() error { return s.refused(proxy, "PROXY01$", "repository", "task.start", client.ErrForbidden) },
		func() error { return s.events(backup, proxy) },
		func() error { return s.handshakeRefused("intern01", "INTERN01$ (group CN=Interns has no role)") },
		func() error { return s.handshakeRefused("stranger", "a node whose key nobody enrolled") },
		func() error { return s.revoke(backup) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// node connects a client with the key pair in dir/name.key_secret.
func (s *scenario) node(name string) (*client.Client, error) {
	c, err := certs.LoadSecret(filepath.Join(s.dir, name+".key_secret"))
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	srv, err := certs.LoadPublic(filepath.Join(s.dir, "broker.key"))
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	cl, err := client.New(client.Config{Endpoint: s.endpoint, ServerKey: srv.Public, PublicKey: c.Public, SecretKey: *c.Secret, Logger: s.log})
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	s.clients = append(s.clients, cl)
	return cl, nil
}

// serve runs a worker that answers every command with "ok <command>".
func (s *scenario) serve(c *client.Client, service, who string) {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = append(s.cancel, cancel)
	go c.Serve(ctx, service, func(_ context.Context, command string, payload [][]byte) ([][]byte, error) {
		return [][]byte{[]byte("ok"), []byte(who + " did " + command)}, nil
	})
}

func (s *scenario) closeNodes() {
	for _, c := range s.cancel {
		c()
	}
	for _, c := range s.clients {
		c.Close()
	}
}

// request retries briefly while workers are still registering.
func request(c *client.Client, service, command string, payload ...[]byte) ([][]byte, error) {
	deadline := time.Now().Add(stepTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		reply, err := c.Request(ctx, service, command, payload...)
		cancel()
		if !errors.Is(err, client.ErrNoWorker) || time.Now().After(deadline) {
			return reply, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *scenario) relayed(c *client.Client, who, service, command, arg string) error {
	fmt.Fprintf(s.out, "\n[+] %s asks service %q to run %q\n", who, service, command)
	var payload [][]byte
	if arg != "" {
		payload = append(payload, []byte(arg))
	}
	reply, err := request(c, service, command, payload...)
	if err != nil {
		return fmt.Errorf("demo: %s %s/%s should be relayed: %w", who, service, command, err)
	}
	fmt.Fprintf(s.out, "    relayed; reply %q\n", reply)
	return nil
}

func (s *scenario) refused(c *client.Client, who, service, command string, want error) error {
	fmt.Fprintf(s.out, "\n[-] %s tries service %q command %q\n", who, service, command)
	_, err := request(c, service, command)
	var ref *client.RefusedError
	if !errors.Is(err, want) || !errors.As(err, &ref) {
		return fmt.Errorf("demo: %s %s/%s: got %v, want a %v refusal", who, service, command, err, want)
	}
	fmt.Fprintf(s.out, "    refused by the broker with an explicit reply: %v\n", err)
	return nil
}
