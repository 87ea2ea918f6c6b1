// Command subscriber is an example zapgate subscriber: it subscribes to
// job-status topics matching a pattern and prints each event with the
// principal that published it (authenticated by the broker).
//
//	go run ./examples/subscriber -endpoint tcp://127.0.0.1:5555 \
//	    -broker-cert broker.key -cert backup01.key_secret -pattern 'job.**'
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/zapgate/zapgate/examples/internal/node"
)

func main() {
	f := node.Register()
	pattern := flag.String("pattern", "job.**", `topic pattern: "*" is one segment, a final "**" one or more`)
	flag.Parse()
	c, err := f.Client()
	if err != nil {
		node.Fatal(err)
	}
	defer c.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	events, err := c.Subscribe(ctx, *pattern)
	if err != nil {
		node.Fatal(err)
	}
	fmt.Printf("subscribed to %q; Ctrl-C to stop\n", *pattern)
	for ev := range events {
		switch {
		case ev.Err != nil:
			node.Fatal(fmt.Errorf("subscription ended: %w", ev.Err))
		case ev.Gap || ev.Missed > 0:
			fmt.Printf("(events may have been lost: missed %d)\n", ev.Missed)
		}
		fmt.Printf("%s from %s: %q\n", ev.Topic, ev.Publisher, ev.Payload)
	}
}
