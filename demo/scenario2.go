package demo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zapgate/zapgate/broker/audit"
	"github.com/zapgate/zapgate/broker/client"
	"github.com/zapgate/zapgate/certs"
)

// events shows a job-status event going from a proxy to a subscribed
// backup server, and a refused publication outside the proxy's topics.
func (s *scenario) events(backup, proxy *client.Client) error {
	fmt.Fprintln(s.out, "\n[+] BACKUP01$ subscribes to job.**; PROXY01$ publishes job.status.PROXY01")
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	ch, err := backup.Subscribe(ctx, "job.**")
	if err != nil {
		return fmt.Errorf("demo: subscribe: %w", err)
	}
	if err := proxy.Publish(ctx, "job.status.PROXY01", []byte("job-7 42%")); err != nil {
		return fmt.Errorf("demo: publish: %w", err)
	}
	select {
	case ev := <-ch:
		if ev.Err != nil {
			return fmt.Errorf("demo: event: %w", ev.Err)
		}
		fmt.Fprintf(s.out, "    BACKUP01$ received %s from %s: %q\n", ev.Topic, ev.Publisher, ev.Payload)
	case <-ctx.Done():
		return errors.New("demo: the job-status event did not arrive")
	}
	fmt.Fprintln(s.out, "\n[-] PROXY01$ tries to publish on admin.alert (not in its publish topics)")
	err = proxy.Publish(ctx, "admin.alert", []byte("spoofed"))
	if !errors.Is(err, client.ErrForbidden) {
		return fmt.Errorf("demo: publish admin.alert: got %v, want a refusal", err)
	}
	fmt.Fprintf(s.out, "    refused: %v\n", err)
	return nil
}

// handshakeRefused connects a node that the ZAP handler must refuse.
func (s *scenario) handshakeRefused(name, what string) error {
	fmt.Fprintf(s.out, "\n[-] %s connects\n", what)
	c, err := s.node(name)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	_, err = c.Request(ctx, "proxy", "task.status")
	if !errors.Is(err, client.ErrHandshake) {
		return fmt.Errorf("demo: %s: got %v, want the handshake refused", name, err)
	}
	fmt.Fprintf(s.out, "    handshake refused by the ZAP handler (ZAP 400): %v\n", err)
	return nil
}

// revoke revokes the proxy's key while it is connected and serving.
func (s *scenario) revoke(backup *client.Client) error {
	fmt.Fprintln(s.out, "\n[!] the security team revokes PROXY01$ while it is connected: zapgate keys revoke 'PROXY01$'")
	if _, _, err := certs.Revoke(s.registry, "PROXY01$"); err != nil {
		return fmt.Errorf("demo: revoke: %w", err)
	}
	start := time.Now()
	deadline := start.Add(stepTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		_, err := backup.Request(ctx, "proxy", "task.start", []byte("job-8"))
		cancel()
		if errors.Is(err, client.ErrNoWorker) || errors.Is(err, client.ErrUnavailable) {
			fmt.Fprintf(s.out, "    %s later the proxy worker is disconnected; BACKUP01$'s next task.start gets: %v\n",
				time.Since(start).Round(time.Millisecond), err)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: a revoked worker still served (last result %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// showAudit verifies the audit log and prints it one line per record.
func showAudit(out interface{ Write([]byte) (int, error) }, dir string) error {
	files, _, err := audit.ResolvePaths([]string{dir})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	res, err := audit.Verify(files, audit.VerifyOptions{})
	if err != nil {
		return fmt.Errorf("demo: audit verify: %w", err)
	}
	fmt.Fprintf(out, "\n[4] the audit trail: %d records in %s, hash chain verified (zapgate audit verify)\n", res.Records, dir)
	return audit.Scan(files, audit.ScanOptions{}, func(e *audit.Entry) error {
		fmt.Fprintln(out, "    "+audit.FormatLine(&e.Record))
		return nil
	})
}
