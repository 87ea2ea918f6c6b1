package zap

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"golang.org/x/crypto/nacl/box"
)

// hostileClient is a minimal hand-written ZMTP 3.0 CURVE client (RFC 23,
// RFC 26). Unlike libzmq it lets the test put arbitrary properties in the
// INITIATE metadata, which is what a hostile peer controls; Debian's libzmq
// lacks the draft ZMQ_METADATA option that would do the same.
type hostileClient struct {
	conn      net.Conn
	serverPub [32]byte // S, the server's long-term key
	pub, sec  [32]byte // C, the client's long-term key pair
	cnPub     *[32]byte
	cnSec     *[32]byte // C', the client's short-term key pair
	snPub     [32]byte  // S', the server's short-term key
	nonce     uint64    // client short nonce, incremented per command
	ready     Properties
}

// dialHostile connects to a CURVE server at endpoint ("tcp://host:port")
// and runs the whole handshake, sending meta in INITIATE. It returns an
// error (including the server's ERROR reason) if the handshake fails.
func dialHostile(endpoint string, serverPub, pub, sec [32]byte, meta Properties) (*hostileClient, error) {
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(endpoint, "tcp://"), 5*time.Second)
	if err != nil {
		return nil, err
	}
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		conn.Close()
		return nil, err
	}
	c := &hostileClient{conn: conn, serverPub: serverPub, pub: pub, sec: sec}
	if err := c.handshake(meta); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

func (c *hostileClient) Close() error { return c.conn.Close() }

func (c *hostileClient) handshake(meta Properties) error {
	if err := c.greet(); err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	var err error
	if c.cnPub, c.cnSec, err = box.GenerateKey(rand.Reader); err != nil {
		return err
	}
	if err := c.sendHello(); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	cookie, err := c.readWelcome()
	if err != nil {
		return fmt.Errorf("welcome: %w", err)
	}
	if err := c.sendInitiate(cookie, meta); err != nil {
		return fmt.Errorf("initiate: %w", err)
	}
	if err := c.readReady(); err != nil {
		return fmt.Errorf("ready: %w", err)
	}
	return nil
}

// greet exchanges the 64-byte ZMTP 3.0 greeting with mechanism CURVE.
func (c *hostileClient) greet() error {
	g := make([]byte, 64)
	g[0], g[8], g[9] = 0xff, 0x01, 0x7f
	g[10], g[11] = 3, 0
	copy(g[12:32], "CURVE")
	g[32] = 0 // as-server: no
	if _, err := c.conn.Write(g); err != nil {
		return err
	}
	peer := make([]byte, 64)
	if _, err := io.ReadFull(c.conn, peer); err != nil {
		return err
	}
	if peer[0] != 0xff || peer[9] != 0x7f || peer[10] != 3 {
		return fmt.Errorf("bad server greeting % x", peer[:12])
	}
	if mech := strings.TrimRight(string(peer[12:32]), "\x00"); mech != "CURVE" {
		return fmt.Errorf("server mechanism %q", mech)
	}
	return nil
}

func (c *hostileClient) nextNonce() []byte {
	c.nonce++
	return binary.BigEndian.AppendUint64(nil, c.nonce)
}

func nonce24(prefix string, suffix []byte) *[24]byte {
	var n [24]byte
	copy(n[:], prefix)
	copy(n[len(prefix):], suffix)
	return &n
}

// sendHello: "\x05HELLO", version 1.0, 72 bytes padding, C', short nonce,
// Box[64 zero bytes](C'->S).
func (c *hostileClient) sendHello() error {
	short := c.nextNonce()
	body := []byte("\x05HELLO\x01\x00")
	body = append(body, make([]byte, 72)...)
	body = append(body, c.cnPub[:]...)
	body = append(body, short...)
	body = box.Seal(body, make([]byte, 64), nonce24("CurveZMQHELLO---", short), &c.serverPub, c.cnSec)
	return c.writeFrame(0x04, body)
}

// readWelcome opens Box[S' + cookie](S->C') and returns the cookie.
func (c *hostileClient) readWelcome() ([]byte, error) {
	body, err := c.readCommand("WELCOME")
	if err != nil {
		return nil, err
	}
	if len(body) != 8+16+144 {
		return nil, fmt.Errorf("WELCOME of %d bytes", len(body))
	}
	plain, ok := box.Open(nil, body[24:], nonce24("WELCOME-", body[8:24]), &c.serverPub, c.cnSec)
	if !ok {
		return nil, errors.New("cannot open WELCOME box")
	}
	copy(c.snPub[:], plain[:32])
	return plain[32:128], nil
}

// sendInitiate: "\x08INITIATE", cookie, short nonce,
// Box[C + vouch + metadata](C'->S'), vouch = nonce + Box[C' + S](C->S').
func (c *hostileClient) sendInitiate(cookie []byte, meta Properties) error {
	var vouchNonce [16]byte
	if _, err := rand.Read(vouchNonce[:]); err != nil {
		return err
	}
	vouchPlain := append(append([]byte{}, c.cnPub[:]...), c.serverPub[:]...)
	vouch := box.Seal(nil, vouchPlain, nonce24("VOUCH---", vouchNonce[:]), &c.snPub, &c.sec)
	metaBytes, err := EncodeMetadata(meta)
	if err != nil {
		return err
	}
	plain := append(append([]byte{}, c.pub[:]...), vouchNonce[:]...)
	plain = append(plain, vouch...)
	plain = append(plain, metaBytes...)
	short := c.nextNonce()
	body := append([]byte("\x08INITIATE"), cookie...)
	body = append(body, short...)
	body = box.Seal(body, plain, nonce24("CurveZMQINITIATE", short), &c.snPub, c.cnSec)
	return c.writeFrame(0x04, body)
}

// readReady opens Box[metadata](S'->C') and keeps the server's metadata.
func (c *hostileClient) readReady() error {
	body, err := c.readCommand("READY")
	if err != nil {
		return err
	}
	if len(body) < 6+8+16 {
		return fmt.Errorf("READY of %d bytes", len(body))
	}
	plain, ok := box.Open(nil, body[14:], nonce24("CurveZMQREADY---", body[6:14]), &c.snPub, c.cnSec)
	if !ok {
		return errors.New("cannot open READY box")
	}
	c.ready, err = ParseMetadata(plain)
	return err
}

// Send sends one single-frame message: "\x07MESSAGE", short nonce,
// Box[flags + data](C'->S').
func (c *hostileClient) Send(data []byte) error {
	short := c.nextNonce()
	body := append([]byte("\x07MESSAGE"), short...)
	body = box.Seal(body, append([]byte{0x00}, data...), nonce24("CurveZMQMESSAGEC", short), &c.snPub, c.cnSec)
	return c.writeFrame(0x00, body)
}

// writeFrame writes a ZMTP 3.0 frame; flags 0x04 marks a command.
func (c *hostileClient) writeFrame(flags byte, body []byte) error {
	var hdr []byte
	if len(body) > 255 {
		hdr = binary.BigEndian.AppendUint64([]byte{flags | 0x02}, uint64(len(body)))
	} else {
		hdr = []byte{flags, byte(len(body))}
	}
	_, err := c.conn.Write(append(hdr, body...))
	return err
}

// readCommand reads one command frame and checks its name; an ERROR
// command becomes an error carrying the server's reason.
func (c *hostileClient) readCommand(name string) ([]byte, error) {
	var flags [1]byte
	if _, err := io.ReadFull(c.conn, flags[:]); err != nil {
		return nil, err
	}
	var size uint64
	if flags[0]&0x02 != 0 {
		var b [8]byte
		if _, err := io.ReadFull(c.conn, b[:]); err != nil {
			return nil, err
		}
		size = binary.BigEndian.Uint64(b[:])
	} else {
		var b [1]byte
		if _, err := io.ReadFull(c.conn, b[:]); err != nil {
			return nil, err
		}
		size = uint64(b[0])
	}
	if size > 1<<20 {
		return nil, fmt.Errorf("frame of %d bytes", size)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(c.conn, body); err != nil {
		return nil, err
	}
	if flags[0]&0x04 == 0 || len(body) < 1 || int(body[0])+1 > len(body) {
		return nil, fmt.Errorf("expected command %s, got flags %#x", name, flags[0])
	}
	got := string(body[1 : 1+int(body[0])])
	if got == "ERROR" {
		reason := ""
		if rest := body[6:]; len(rest) > 0 && int(rest[0]) < len(rest) {
			reason = string(rest[1 : 1+int(rest[0])])
		}
		return nil, fmt.Errorf("server sent ERROR %q", reason)
	}
	if got != name {
		return nil, fmt.Errorf("expected command %s, got %s", name, got)
	}
	return body, nil
}
