package audit

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Append benchmarks: benchAppenders goroutines append as fast as they can,
// as ZAP workers would, to a durable log (group commit, one fdatasync per
// batch) and to the same writer with NoSync, interleaved in ABBA batches
// in one run. Reported: records/s of each, their ratio, p50/p99 latency
// of one Append for each, the latency fsync adds, and records per fsync.
//
//	go test -run '^$' -bench BenchmarkAppendRatio -benchtime 200000x ./broker/audit/

const benchAppenders = 64

// benchLog opens a log in a fresh directory for a benchmark.
func benchLog(b *testing.B, noSync bool) *Log {
	b.Helper()
	l, err := Open(Options{Dir: b.TempDir(), CheckpointKey: testPriv, NoSync: noSync,
		RotateBytes: 256 << 20, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = l.Close() })
	return l
}

// runAppends appends n records from benchAppenders goroutines and adds
// each Append's latency to lat.
func runAppends(b *testing.B, l *Log, n int, lat *[]time.Duration) time.Duration {
	var left atomic.Int64
	left.Store(int64(n))
	per := make([][]time.Duration, benchAppenders)
	var wg sync.WaitGroup
	rec := sampleRecord(7)
	start := time.Now()
	for g := range benchAppenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				t0 := time.Now()
				if _, err := l.Append(context.Background(), rec); err != nil {
					b.Error(err)
					return
				}
				per[g] = append(per[g], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, p := range per {
		*lat = append(*lat, p...)
	}
	return elapsed
}

// percentile returns the p-th percentile of sorted latencies.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

func BenchmarkAppendRatio(b *testing.B) {
	durable, nosync := benchLog(b, false), benchLog(b, true)
	var warm []time.Duration
	runAppends(b, durable, 2000, &warm)
	runAppends(b, nosync, 2000, &warm)
	fs0, ap0 := durable.Stats().Fsyncs, durable.Stats().Appended
	const batch = 20000
	var tDur, tNo time.Duration
	latDur := make([]time.Duration, 0, b.N)
	latNo := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i, done := 0, 0; done < b.N; i++ {
		n := min(batch, b.N-done)
		done += n
		if i%2 == 0 {
			tDur += runAppends(b, durable, n, &latDur)
			tNo += runAppends(b, nosync, n, &latNo)
		} else {
			tNo += runAppends(b, nosync, n, &latNo)
			tDur += runAppends(b, durable, n, &latDur)
		}
	}
	b.StopTimer()
	slices.Sort(latDur)
	slices.Sort(latNo)
	durRate, noRate := float64(b.N)/tDur.Seconds(), float64(b.N)/tNo.Seconds()
	st := durable.Stats()
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	b.ReportMetric(durRate, "durable-records/s")
	b.ReportMetric(noRate, "nosync-records/s")
	b.ReportMetric(durRate/noRate, "ratio")
	b.ReportMetric(us(percentile(latDur, 0.50)), "p50-µs")
	b.ReportMetric(us(percentile(latDur, 0.99)), "p99-µs")
	b.ReportMetric(us(percentile(latDur, 0.50)-percentile(latNo, 0.50)), "added-p50-µs")
	b.ReportMetric(us(percentile(latDur, 0.99)-percentile(latNo, 0.99)), "added-p99-µs")
	b.ReportMetric(float64(st.Appended-ap0)/float64(max(1, st.Fsyncs-fs0)), "records/fsync")
	b.ReportMetric(0, "ns/op")
}
