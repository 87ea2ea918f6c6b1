package flood

import (
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultReserve is the free space kept for grants when none is configured.
const DefaultReserve = 256 << 20

// reserveRecheck is how long a free-space reading is reused.
const reserveRecheck = 250 * time.Millisecond

// Reserve reports whether the filesystem holding the audit log has less
// free space than the bytes kept for grants. Below the reserve, refusals
// of unauthenticated peers are only counted (see Aggregator). It is safe
// for concurrent use.
type Reserve struct {
	dir   string
	bytes uint64
	now   func() time.Time

	mu      sync.Mutex
	checked time.Time
	free    uint64
	err     error
	low     atomic.Bool
	lowN    atomic.Uint64 // transitions into the low state
}

// NewReserve keeps bytes free on the filesystem of dir; bytes 0 turns the
// reserve off (Low is always false). now is the clock (nil: time.Now).
func NewReserve(dir string, bytes uint64, now func() time.Time) *Reserve {
	if now == nil {
		now = time.Now
	}
	return &Reserve{dir: dir, bytes: bytes, now: now}
}

// ReserveStatus is a reading of the reserve for metrics and /readyz.
type ReserveStatus struct {
	// Free is the space available to the broker's user, in bytes.
	Free uint64
	// Reserve is the configured reserve, in bytes.
	Reserve uint64
	// Low is true while Free is below Reserve.
	Low bool
	// LowEvents counts the times the reserve was crossed downwards.
	LowEvents uint64
	// Err is the last statfs error ("" when none); the reserve then counts
	// as not low, so a broken statfs never suppresses records.
	Err string
}

// Low reports whether free space is below the reserve, reading the
// filesystem at most every 250ms.
func (r *Reserve) Low() bool {
	if r == nil || r.bytes == 0 {
		return false
	}
	r.refresh(false)
	return r.low.Load()
}

// Status reads the filesystem now and returns the reserve's state.
func (r *Reserve) Status() ReserveStatus {
	if r == nil {
		return ReserveStatus{}
	}
	r.refresh(true)
	r.mu.Lock()
	defer r.mu.Unlock()
	st := ReserveStatus{Free: r.free, Reserve: r.bytes, Low: r.low.Load(), LowEvents: r.lowN.Load()}
	if r.err != nil {
		st.Err = r.err.Error()
	}
	return st
}

// Check is a /readyz check: an error while free space is below the
// reserve (unauthenticated refusals are then only counted).
func (r *Reserve) Check() error {
	st := r.Status()
	if st.Low {
		return fmt.Errorf("audit filesystem has %d bytes free, below the reserve of %d: refusals of unauthenticated peers are only counted", st.Free, st.Reserve)
	}
	return nil
}

func (r *Reserve) refresh(force bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if !force && !r.checked.IsZero() && now.Sub(r.checked) < reserveRecheck {
		return
	}
	r.checked = now
	var fs syscall.Statfs_t
	if err := syscall.Statfs(r.dir, &fs); err != nil {
		r.err = fmt.Errorf("flood: statfs %s: %w", r.dir, err)
		r.low.Store(false)
		return
	}
	r.err = nil
	r.free = fs.Bavail * uint64(fs.Bsize)
	low := r.bytes > 0 && r.free < r.bytes
	if low && !r.low.Load() {
		r.lowN.Add(1)
	}
	r.low.Store(low)
}
