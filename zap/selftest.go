package zap

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/pebbe/zmq4"
)

// selfTestTimeout bounds the startup self-test.
const selfTestTimeout = 5 * time.Second

// selfTest proves that the server answers on Endpoint: a DEALER in the same
// context sends a NULL request in SelfTestDomain with a random request id;
// it travels the real path (ROUTER, loop, queue, worker, forwarder, loop,
// ROUTER) and must come back as a well-formed 400 echoing the id, with no
// user id and no metadata.
func (s *Server) selfTest() (err error) {
	d, err := s.zctx.NewSocket(zmq4.DEALER)
	if err != nil {
		return fmt.Errorf("new dealer: %w", err)
	}
	defer func() {
		if cerr := d.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close dealer: %w", cerr)
		}
	}()
	for _, set := range []func() error{
		func() error { return d.SetLinger(0) },
		func() error { return d.SetRcvtimeo(selfTestTimeout) },
		func() error { return d.SetSndtimeo(selfTestTimeout) },
	} {
		if err := set(); err != nil {
			return fmt.Errorf("set dealer option: %w", err)
		}
	}
	if err := d.Connect(Endpoint); err != nil {
		return fmt.Errorf("connect %s: %w", Endpoint, err)
	}
	token := make([]byte, 16)
	if _, err := rand.Read(token); err != nil {
		return fmt.Errorf("random request id: %w", err)
	}
	req := Request{RequestID: token, Domain: SelfTestDomain, Mechanism: MechanismNull}
	frames, err := req.Frames()
	if err != nil {
		return err
	}
	if _, err := d.SendMessage("", frames); err != nil {
		return fmt.Errorf("send request: %w", err)
	}
	msg, err := d.RecvMessageBytes(0)
	if err != nil {
		return fmt.Errorf("no reply within %s: %w", selfTestTimeout, err)
	}
	rep, err := ParseReply(msg)
	if err != nil {
		return fmt.Errorf("reply: %w", err)
	}
	if rep.Status != StatusDenied || !bytes.Equal(rep.RequestID, token) || rep.UserID != "" || len(rep.Metadata) != 0 {
		return fmt.Errorf("unexpected reply: status %d, user id %q, %d properties, request id echoed: %t",
			int(rep.Status), rep.UserID, len(rep.Metadata), bytes.Equal(rep.RequestID, token))
	}
	return nil
}
