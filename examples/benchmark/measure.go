package main

import (
	"context"
	"runtime"
	"runtime/metrics"
	"slices"
	"time"
)

// heapSampleEvery is how often the live heap is sampled during a run.
const heapSampleEvery = 5 * time.Millisecond

// measurement is one timed run of a method.
type measurement struct {
	elapsed    time.Duration
	allocBytes uint64 // TotalAlloc delta
	mallocs    uint64 // Mallocs delta
	gcs        uint32 // garbage collections during the run
	peakLive   uint64 // highest live heap a GC found, less the live heap before the run
}

// runOnce readies the tables for s, writes a fresh copy of template with
// m, and verifies the result. Only the write is timed and measured.
func runOnce[T any](ctx context.Context, b *bench, s scenario[T], m method[T], template []T) (measurement, error) {
	if err := s.reset(b, len(template)); err != nil {
		return measurement{}, err
	}
	rows := s.clone(template)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	base, stopSampler := sampleLiveHeap()

	start := time.Now()
	err := m.insert(ctx, b, rows)
	elapsed := time.Since(start)

	peak := stopSampler()
	runtime.ReadMemStats(&after)
	if err != nil {
		return measurement{}, err
	}
	if err := s.verify(b, m.ids, rows); err != nil {
		return measurement{}, err
	}
	return measurement{
		elapsed:    elapsed,
		allocBytes: after.TotalAlloc - before.TotalAlloc,
		mallocs:    after.Mallocs - before.Mallocs,
		gcs:        after.NumGC - before.NumGC,
		peakLive:   max(peak, base) - base,
	}, nil
}

// sampleLiveHeap samples the bytes of heap objects the last GC found live
// until the function it returns is called, which returns the highest
// sample; base is the first. The live heap changes only when a GC ends, so
// garbage not yet collected never counts, whatever GOGC and the heap's size
// are. runtime/metrics reads it without stopping the world.
func sampleLiveHeap() (base uint64, stop func() uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	read := func() uint64 {
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	base = read()
	done, result := make(chan struct{}), make(chan uint64)
	go func() {
		tick := time.NewTicker(heapSampleEvery)
		defer tick.Stop()
		peak := base
		for {
			select {
			case <-tick.C:
				peak = max(peak, read())
			case <-done:
				result <- max(peak, read())
				return
			}
		}
	}()
	return base, func() uint64 {
		close(done)
		return <-result
	}
}

// median returns the median of f over runs.
func median(runs []measurement, f func(measurement) float64) float64 {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}
