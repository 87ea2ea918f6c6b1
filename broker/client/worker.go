package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/zapgate/zapgate/broker/internal/netwait"
	"github.com/zapgate/zapgate/broker/mdp"
)

// Handler answers one request: command is the first body frame, payload
// the rest. The returned frames are the reply body; they must not start
// with "zapgate." (the broker refuses such replies). A returned error is
// sent to the requester as the two-frame reply ["error", err.Error()], so
// keep secrets out of it. ctx ends when Serve's context does.
type Handler func(ctx context.Context, command string, payload [][]byte) ([][]byte, error)

// errReconnect ends one worker session; Serve opens another after the
// backoff.
var errReconnect = errors.New("client: worker session ended")

// Serve registers as a Majordomo worker for service and answers requests
// with h, one at a time, until ctx ends (it then sends DISCONNECT and
// returns nil) or the Client is closed (ErrClosed). It reconnects with
// exponential backoff when the broker disconnects it (expiry, refusal,
// restart: the broker does not say which; its audit log does) or stops
// answering heartbeats. Call Serve from several goroutines to serve
// several requests at once.
func (c *Client) Serve(ctx context.Context, service string, h Handler) error {
	if err := mdp.CheckName(service); err != nil || mdp.Reserved(service) {
		return fmt.Errorf("client: cannot serve %q: reserved or invalid name", service)
	}
	if c.closing.Load() {
		return ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(c.stopCtx, cancel)()
	c.wg.Add(1)
	defer c.wg.Done()
	var backoff time.Duration
	for {
		w := &worker{cl: c, service: service, h: h}
		served, err := w.session(ctx)
		switch {
		case c.closing.Load():
			return ErrClosed
		case ctx.Err() != nil:
			return nil
		case !errors.Is(err, errReconnect):
			return err
		}
		if served {
			backoff = 0
		}
		backoff = c.cfg.backoff(backoff)
		c.log.Info("worker reconnecting", "service", service, "in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// worker is one connection of a Serve call, owned by its goroutine.
type worker struct {
	cl      *Client
	service string
	h       Handler
	sock    *zmq.Socket
	wt      *netwait.Waiter

	mu     sync.Mutex
	result *handlerResult // set by the handler goroutine
}

type handlerResult struct {
	addr []byte
	body [][]byte
}

// session registers and serves until the broker is gone or ctx ends. It
// reports whether the broker ever talked to this session.
func (w *worker) session(ctx context.Context) (served bool, err error) {
	if w.sock, w.wt, err = w.cl.dial(); err != nil {
		return false, errReconnect
	}
	defer w.sock.Close()
	defer w.wt.Close()
	stopWake := context.AfterFunc(ctx, w.wt.Wake)
	defer stopWake()
	cfg := &w.cl.cfg
	if err := w.send(mdp.WorkerReady(w.service)); err != nil {
		return false, errReconnect
	}
	heard, beat := time.Now(), time.Now().Add(cfg.Heartbeat)
	busy := false
	for {
		if ctx.Err() != nil {
			w.finish(busy)
			return served, nil
		}
		if r := w.takeResult(); r != nil {
			busy = false
			_ = w.send(mdp.WorkerReply(r.addr, r.body...))
		}
		now := time.Now()
		if now.Sub(heard) > cfg.expiry() {
			w.cl.log.Warn("broker silent; reconnecting", "service", w.service)
			return served, errReconnect
		}
		if !now.Before(beat) {
			_ = w.send(mdp.WorkerCommand(mdp.Heartbeat))
			beat = now.Add(cfg.Heartbeat)
		}
		msg, err := w.sock.RecvMessageBytes(zmq.DONTWAIT)
		if err != nil {
			if !isAgain(err) {
				return served, errReconnect
			}
			if err := w.wt.Wait(beat); err != nil {
				return served, errReconnect
			}
			continue
		}
		heard, served = time.Now(), true
		if len(msg) < 3 || string(msg[1]) != mdp.WorkerHeader || len(msg[2]) != 1 {
			continue
		}
		switch mdp.Command(msg[2][0]) {
		case mdp.Disconnect:
			return served, errReconnect
		case mdp.Request:
			if busy || len(msg) < 6 || len(msg[4]) != 0 {
				continue
			}
			busy = true
			go w.run(ctx, msg[3], msg[5:])
		}
	}
}

// run calls the handler on its own goroutine, so the session keeps
// heartbeating while it works.
func (w *worker) run(ctx context.Context, addr []byte, body [][]byte) {
	reply := w.call(ctx, body)
	w.mu.Lock()
	w.result = &handlerResult{addr: addr, body: reply}
	w.mu.Unlock()
	w.wt.Wake()
}

func (w *worker) call(ctx context.Context, body [][]byte) (reply [][]byte) {
	defer func() {
		if r := recover(); r != nil {
			w.cl.log.Error("handler panicked", "service", w.service, "panic", r)
			reply = errorReply(errors.New("internal error"))
		}
	}()
	if len(body) == 0 {
		return errorReply(errors.New("request without a command"))
	}
	out, err := w.h(ctx, string(body[0]), body[1:])
	if err != nil {
		return errorReply(err)
	}
	if len(out) > 0 && bytes.HasPrefix(out[0], []byte(mdp.ReservedPrefix)) {
		w.cl.log.Error("handler reply starts with a reserved frame; sending an error instead", "service", w.service)
		return errorReply(errors.New("reply starts with a reserved frame"))
	}
	return out
}

func errorReply(err error) [][]byte { return [][]byte{[]byte("error"), []byte(err.Error())} }

func (w *worker) takeResult() *handlerResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.result
	w.result = nil
	return r
}

// finish lets a running handler end (its context is done), sends its
// reply if it comes within the broker's expiry, then DISCONNECT.
func (w *worker) finish(busy bool) {
	deadline := time.Now().Add(w.cl.cfg.expiry())
	for busy && time.Now().Before(deadline) {
		if r := w.takeResult(); r != nil {
			_ = w.send(mdp.WorkerReply(r.addr, r.body...))
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = w.send(mdp.WorkerCommand(mdp.Disconnect))
	_ = w.sock.SetLinger(200 * time.Millisecond) // let the last messages leave
}

func (w *worker) send(frames [][]byte) error {
	_, err := w.sock.SendMessageDontwait(frames)
	return err
}
