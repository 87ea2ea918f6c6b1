// Command client is an example zapgate client: it sends one Majordomo
// request through the broker and prints the reply, or the broker's
// refusal with its code and reason.
//
//	go run ./examples/client -endpoint tcp://127.0.0.1:5555 \
//	    -broker-cert broker.key -cert backup01.key_secret \
//	    proxy task.start job-7
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/zapgate/zapgate/broker/client"
	"github.com/zapgate/zapgate/examples/internal/node"
)

func main() {
	f := node.Register()
	timeout := flag.Duration("timeout", 5*time.Second, "how long to wait for the reply")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: client [flags] SERVICE COMMAND [PAYLOAD...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 2 {
		flag.Usage()
		os.Exit(2)
	}
	c, err := f.Client()
	if err != nil {
		node.Fatal(err)
	}
	defer c.Close()
	var payload [][]byte
	for _, p := range flag.Args()[2:] {
		payload = append(payload, []byte(p))
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	reply, err := c.Request(ctx, flag.Arg(0), flag.Arg(1), payload...)
	var refused *client.RefusedError
	switch {
	case errors.As(err, &refused):
		fmt.Printf("refused: %d %s (%s)\n", refused.Code, refused.Reason, refused.Detail)
		os.Exit(1)
	case err != nil:
		node.Fatal(err)
	}
	for _, frame := range reply {
		fmt.Printf("%s\n", frame)
	}
}
