package shutout

import (
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestOffencesShutOutPastThreshold(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := New(Config{Offences: 3, Window: time.Minute, Duration: 5 * time.Minute, Now: c.now})
	for i := range 2 {
		if l.Offend("K", "NODE01") {
			t.Fatalf("offence %d shut the key out", i+1)
		}
		c.t = c.t.Add(10 * time.Second)
	}
	if _, _, ok := l.ShutOut("K"); ok {
		t.Fatal("shut out below the threshold")
	}
	if !l.Offend("K", "NODE01") {
		t.Fatal("third offence in the window did not shut the key out")
	}
	p, until, ok := l.ShutOut("K")
	if !ok || p != "NODE01" || !until.Equal(c.t.Add(5*time.Minute)) {
		t.Fatalf("ShutOut = %q %v %v", p, until, ok)
	}
	if l.Offend("K", "NODE01") {
		t.Error("an offence while shut out reported a new shut-out")
	}
	if _, _, ok := l.ShutOut("other"); ok {
		t.Error("another key is shut out")
	}
	c.t = c.t.Add(5 * time.Minute)
	if _, _, ok := l.ShutOut("K"); ok {
		t.Error("still shut out after the duration")
	}
}

func TestOffencesOutsideTheWindowDoNotCount(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := New(Config{Offences: 2, Window: time.Minute, Duration: time.Minute, Now: c.now})
	for range 5 {
		if l.Offend("K", "N") {
			t.Fatal("offences a window apart shut the key out")
		}
		c.t = c.t.Add(61 * time.Second)
	}
	l.Offend("K", "N")
	c.t = c.t.Add(30 * time.Second)
	if !l.Offend("K", "N") {
		t.Fatal("two offences within the window did not shut the key out")
	}
}

func TestKeysAreBounded(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l := New(Config{Offences: 1, Window: time.Minute, Duration: time.Hour, Now: c.now})
	l.Offend("shut", "N")
	c.t = c.t.Add(2 * time.Minute)
	for i := range maxKeys + 10 {
		l.keys[string(rune(i))+"x"] = &entry{}
	}
	l.Offend("new", "N")
	if len(l.keys) > maxKeys {
		t.Errorf("%d keys remembered", len(l.keys))
	}
	if _, _, ok := l.ShutOut("shut"); !ok {
		t.Error("pruning forgot a shut-out key")
	}
}

func TestNilListShutsNoKeyOut(t *testing.T) {
	var l *List
	if _, _, ok := l.ShutOut("K"); ok {
		t.Error("a nil list shut a key out")
	}
}
