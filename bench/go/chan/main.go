// SPDX-License-Identifier: MIT

// Command chan is the Go side of the gort channel benchmarks: the cases of
// bench/chan.c, with the same counts, capacities, values and checks, and
// the same output,
//
//	<name> <metric>=<value> [<key>=<value>...]
//
// where the first key=value is the result bench/run-chan compares; lines
// starting with '#' are comments.  Every case runs benchRounds rounds after
// one untimed warm-up round and reports the median (min= is the best).
// Channels are chan int64, made afresh for every round.  Every round
// checks what was received and exits 1 on a mismatch.
//
//	pingpong_pN      GOMAXPROCS=1 and 2; the main goroutine sends i on
//	                 an unbuffered ping channel, a peer checks it and
//	                 sends back i+1 on an unbuffered pong channel; ns per
//	                 round trip.
//	spsc_cap1024_pN  GOMAXPROCS=1 and 2; one sender sends 1..spscN on a
//	                 channel of capacity 1024, the main goroutine receives
//	                 and checks the order; ns per value.
//	mpmc_4x4_p2      GOMAXPROCS=2; 4 senders each send their own
//	                 mpmcN/4 consecutive values of 1..mpmcN on one channel
//	                 of capacity 100 (as BenchmarkChanProdCons100), closed
//	                 once all have sent; 4 receivers range over it, each
//	                 checking every sender's values arrive in order; the
//	                 count, sum and sum of squares are checked; ns per value.
//	select2_pN       GOMAXPROCS=1 and 2; two senders, one per channel of
//	                 capacity 128, send selectN/2 values each (sender k:
//	                 k, k+2, ...); the main goroutine does selectN two-way
//	                 selects receiving from both and checks each channel's
//	                 order; ns per select.
//
// Elapsed time runs from before the goroutines are started to after they
// are all joined (pingpong: from the first send to the last reply).
//
// Usage: chan-go [pingpong|spsc|mpmc|select2...]  (default: all)
package main

import (
	"fmt"
	"gortbench/internal/bench"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
)

const (
	benchRounds   = 5
	pingpongK     = 100000
	spscN         = 1000000
	spscCap       = 1024
	mpmcN         = 1000000
	mpmcCap       = 100
	mpmcSenders   = 4
	mpmcReceivers = 4
	mpmcPer       = mpmcN / mpmcSenders
	selectN       = 1000000
	selectCap     = 128
)

// wrong reports a received value that is not what was sent.
func wrong(bench, what string, got, want int64) {
	fmt.Fprintf(os.Stderr, "chan-go: %s: wrong %s: got %d, want %d\n",
		bench, what, got, want)
	os.Exit(1)
}

// report runs round once untimed, then benchRounds times, and prints the line.
func report(name string, round func() float64, procs int, extra string) {
	v := make([]float64, benchRounds)
	old := runtime.GOMAXPROCS(procs)
	round()
	for r := range v {
		v[r] = round()
	}
	med := bench.Median(v)
	fmt.Printf("%s ns_per_op=%.1f min=%.1f %s rounds=%d procs=%d\n", name,
		med, v[0], extra, benchRounds, runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(old)
}

func pingpongRound() float64 {
	var wg sync.WaitGroup
	ping := make(chan int64)
	pong := make(chan int64)
	wg.Add(1)
	go func() {
		for i := int64(0); i < pingpongK; i++ {
			v := <-ping
			if v != i {
				wrong("pingpong", "ping", v, i)
			}
			pong <- v + 1
		}
		wg.Done()
	}()
	t0 := bench.Nanotime()
	for i := int64(0); i < pingpongK; i++ {
		ping <- i
		v := <-pong
		if v != i+1 {
			wrong("pingpong", "pong", v, i+1)
		}
	}
	t1 := bench.Nanotime()
	wg.Wait()
	return float64(t1-t0) / pingpongK
}

func benchPingpong() {
	extra := fmt.Sprintf("k=%d cap=0", pingpongK)
	report("pingpong_p1", pingpongRound, 1, extra)
	report("pingpong_p2", pingpongRound, 2, extra)
}

func spscRound() float64 {
	var wg sync.WaitGroup
	c := make(chan int64, spscCap)
	t0 := bench.Nanotime()
	wg.Add(1)
	go func() {
		for v := int64(1); v <= spscN; v++ {
			c <- v
		}
		wg.Done()
	}()
	for i := int64(1); i <= spscN; i++ {
		v, ok := <-c
		if !ok {
			wrong("spsc", "ok", 0, 1)
		}
		if v != i {
			wrong("spsc", "value", v, i)
		}
	}
	wg.Wait()
	t1 := bench.Nanotime()
	if len(c) != 0 {
		wrong("spsc", "len", int64(len(c)), 0)
	}
	return float64(t1-t0) / spscN
}

func benchSPSC() {
	extra := fmt.Sprintf("n=%d cap=%d", spscN, spscCap)
	report("spsc_cap1024_p1", spscRound, 1, extra)
	report("spsc_cap1024_p2", spscRound, 2, extra)
}

func mpmcRound() float64 {
	var senders, receivers sync.WaitGroup
	var nextSender int32
	var count, sum, sumsq uint64
	c := make(chan int64, mpmcCap)
	t0 := bench.Nanotime()
	senders.Add(mpmcSenders)
	receivers.Add(mpmcReceivers)
	for i := 0; i < mpmcReceivers; i++ {
		go func() {
			var last [mpmcSenders]int64
			var n, s1, s2 uint64
			for v := range c {
				if v < 1 || v > mpmcN {
					wrong("mpmc", "value", v, 1)
				}
				s := (v - 1) / mpmcPer
				if v <= last[s] {
					wrong("mpmc", "order", v, last[s]+1)
				}
				last[s] = v
				n++
				s1 += uint64(v)
				s2 += uint64(v) * uint64(v)
			}
			atomic.AddUint64(&count, n)
			atomic.AddUint64(&sum, s1)
			atomic.AddUint64(&sumsq, s2)
			receivers.Done()
		}()
	}
	for i := 0; i < mpmcSenders; i++ {
		go func() {
			s := atomic.AddInt32(&nextSender, 1) - 1
			first := int64(s)*mpmcPer + 1
			for v := first; v < first+mpmcPer; v++ {
				c <- v
			}
			senders.Done()
		}()
	}
	senders.Wait()
	close(c)
	receivers.Wait()
	t1 := bench.Nanotime()
	var wsum, wsumsq uint64
	for v := uint64(1); v <= mpmcN; v++ {
		wsum += v
		wsumsq += v * v
	}
	if count != mpmcN {
		wrong("mpmc", "count", int64(count), mpmcN)
	}
	if sum != wsum {
		wrong("mpmc", "sum", int64(sum), int64(wsum))
	}
	if sumsq != wsumsq {
		wrong("mpmc", "sum of squares", int64(sumsq), int64(wsumsq))
	}
	return float64(t1-t0) / mpmcN
}

func benchMPMC() {
	extra := fmt.Sprintf("n=%d cap=%d senders=%d receivers=%d",
		mpmcN, mpmcCap, mpmcSenders, mpmcReceivers)
	report("mpmc_4x4_p2", mpmcRound, 2, extra)
}

func select2Round() float64 {
	var wg sync.WaitGroup
	var nextSender int32
	c := [2]chan int64{make(chan int64, selectCap), make(chan int64, selectCap)}
	want := [2]int64{0, 1}
	sender := func() {
		k := atomic.AddInt32(&nextSender, 1) - 1
		for v := int64(k); v < selectN; v += 2 {
			c[k] <- v
		}
		wg.Done()
	}
	t0 := bench.Nanotime()
	wg.Add(2)
	go sender()
	go sender()
	c0, c1 := c[0], c[1]
	for i := 0; i < selectN; i++ {
		var k int
		var v int64
		var ok bool
		select {
		case v, ok = <-c0:
			k = 0
		case v, ok = <-c1:
			k = 1
		}
		if !ok {
			wrong("select2", "ok", 0, 1)
		}
		if v != want[k] {
			wrong("select2", "value", v, want[k])
		}
		want[k] += 2
	}
	wg.Wait()
	t1 := bench.Nanotime()
	if want[0] != selectN || want[1] != selectN+1 {
		wrong("select2", "count", want[0]/2, selectN/2)
	}
	return float64(t1-t0) / selectN
}

func benchSelect2() {
	extra := fmt.Sprintf("n=%d cap=%d", selectN, selectCap)
	report("select2_p1", select2Round, 1, extra)
	report("select2_p2", select2Round, 2, extra)
}

var benches = []bench.Bench{
	{Name: "pingpong", Fn: benchPingpong},
	{Name: "spsc", Fn: benchSPSC},
	{Name: "mpmc", Fn: benchMPMC},
	{Name: "select2", Fn: benchSelect2},
}

func main() {
	bench.Run("chan-go", benches, fmt.Sprintf("# %s chan bench: procs=%d ncpu=%d",
		runtime.Version(),
		runtime.GOMAXPROCS(0), runtime.NumCPU()))
}
