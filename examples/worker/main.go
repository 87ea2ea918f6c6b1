// Command worker is an example zapgate worker: it serves the "proxy"
// service with the node library, answers task.start and task.status, and
// publishes the job's progress on job.status.<job>.
//
//	go run ./examples/worker -endpoint tcp://127.0.0.1:5555 \
//	    -broker-cert broker.key -cert proxy01.key_secret
//
// The broker registers it only if the policy lets its principal serve
// "proxy"; otherwise it is disconnected (see the audit log) and retries
// with backoff.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/zapgate/zapgate/examples/internal/node"
)

func main() {
	f := node.Register()
	service := flag.String("service", "proxy", "the service to serve")
	flag.Parse()
	c, err := f.Client()
	if err != nil {
		node.Fatal(err)
	}
	defer c.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	handler := func(ctx context.Context, command string, payload [][]byte) ([][]byte, error) {
		switch command {
		case "task.start":
			if len(payload) == 0 {
				return nil, errors.New("task.start wants a job id")
			}
			job := string(payload[0])
			go progress(ctx, func(pct int) error {
				return c.Publish(ctx, "job.status."+job, fmt.Appendf(nil, "%d%%", pct))
			})
			return [][]byte{[]byte("started"), payload[0]}, nil
		case "task.status":
			return [][]byte{[]byte("idle")}, nil
		}
		return nil, fmt.Errorf("unknown command %q", command)
	}
	fmt.Printf("serving %q; Ctrl-C to stop\n", *service)
	if err := c.Serve(ctx, *service, handler); err != nil {
		node.Fatal(err)
	}
}

// progress reports a fake job's progress every half second.
func progress(ctx context.Context, publish func(int) error) {
	for pct := 0; pct <= 100; pct += 25 {
		if err := publish(pct); err != nil {
			fmt.Fprintln(os.Stderr, "publish:", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}
