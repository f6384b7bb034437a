// SPDX-License-Identifier: MIT

// Command sched is the Go side of the gort scheduler benchmarks: the cases
// of bench/sched.c, with the same counts and the same output,
//
//	<name> <metric>=<value> [<key>=<value>...]
//
// where the first key=value is the result bench/run-sched compares; lines
// starting with '#' are comments.  Timed cases run benchRounds rounds after
// one untimed warm-up round and report the median (min= is the best).
//
//	spawn_join_pN  GOMAXPROCS=1 and 2; start spawnN goroutines that only
//	               call wg.Done(), then wg.Wait(); ns per goroutine.
//	yield          GOMAXPROCS=1; two goroutines each call
//	               runtime.Gosched() yieldK times; ns per Gosched.
//	parkunpark_p1  GOMAXPROCS=1 and 2; ping-pong between two goroutines
//	parkunpark_p2  over two unbuffered channels (Go has no public
//	               semaphore; gort uses its runtime semaphore); ns per
//	               round trip, i.e. two parks and two unparks.
//	rss_parked     default GOMAXPROCS; RSS (/proc/self/statm resident *
//	               page size) before starting rssN goroutines that each
//	               block receiving from one channel, and once all are
//	               blocked; bytes per goroutine.  Then the channel is
//	               closed and all are joined.  Dead goroutines are cached
//	               with their stacks, so it runs first.
//
// Usage: sched-go [spawn_join|yield|parkunpark|rss_parked...]  (default: all)
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

const (
	benchRounds = 5
	spawnN      = 100000
	yieldK      = 500000
	pingpongK   = 100000
	rssN        = 100000
)

var epoch = time.Now()

// nanotime is a monotonic clock in nanoseconds.
func nanotime() int64 {
	return int64(time.Since(epoch))
}

// median sorts v (so v[0] is then the minimum) and returns its median.
func median(v []float64) float64 {
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func spawnRound() float64 {
	var wg sync.WaitGroup
	t0 := nanotime()
	wg.Add(spawnN)
	for i := 0; i < spawnN; i++ {
		go wg.Done()
	}
	wg.Wait()
	return float64(nanotime()-t0) / spawnN
}

func benchSpawnJoin() {
	old := runtime.GOMAXPROCS(0)
	for procs := 1; procs <= 2; procs++ {
		runtime.GOMAXPROCS(procs)
		v := make([]float64, benchRounds)
		cold := spawnRound()
		for r := range v {
			v[r] = spawnRound()
		}
		med := median(v)
		fmt.Printf("spawn_join_p%d ns_per_op=%.1f min=%.1f cold=%.1f n=%d rounds=%d procs=%d\n",
			procs, med, v[0], cold, spawnN, benchRounds, runtime.GOMAXPROCS(0))
	}
	runtime.GOMAXPROCS(old)
}

func yieldRound() float64 {
	var wg sync.WaitGroup
	fn := func() {
		for i := 0; i < yieldK; i++ {
			runtime.Gosched()
		}
		wg.Done()
	}
	t0 := nanotime()
	wg.Add(2)
	go fn()
	go fn()
	wg.Wait()
	return float64(nanotime()-t0) / (2 * yieldK)
}

func benchYield() {
	v := make([]float64, benchRounds)
	old := runtime.GOMAXPROCS(1)
	yieldRound()
	for r := range v {
		v[r] = yieldRound()
	}
	med := median(v)
	fmt.Printf("yield ns_per_op=%.1f min=%.1f k=%d rounds=%d procs=%d\n",
		med, v[0], 2*yieldK, benchRounds, runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(old)
}

func pingpongRound() float64 {
	var wg sync.WaitGroup
	ping := make(chan struct{})
	pong := make(chan struct{})
	wg.Add(1)
	go func() {
		for i := 0; i < pingpongK; i++ {
			<-ping
			pong <- struct{}{}
		}
		wg.Done()
	}()
	t0 := nanotime()
	for i := 0; i < pingpongK; i++ {
		ping <- struct{}{}
		<-pong
	}
	t1 := nanotime()
	wg.Wait()
	return float64(t1-t0) / pingpongK
}

func benchParkUnpark() {
	v := make([]float64, benchRounds)
	old := runtime.GOMAXPROCS(0)
	for procs := 1; procs <= 2; procs++ {
		runtime.GOMAXPROCS(procs)
		pingpongRound()
		for r := range v {
			v[r] = pingpongRound()
		}
		med := median(v)
		fmt.Printf("parkunpark_p%d ns_per_op=%.1f min=%.1f k=%d rounds=%d procs=%d prim=chan\n",
			procs, med, v[0], pingpongK, benchRounds, runtime.GOMAXPROCS(0))
	}
	runtime.GOMAXPROCS(old)
}

// rssBytes returns the resident set size from /proc/self/statm.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sched-go:", err)
		os.Exit(1)
	}
	var size, resident int64
	if _, err := fmt.Sscan(string(b), &size, &resident); err != nil {
		fmt.Fprintln(os.Stderr, "sched-go: /proc/self/statm:", err)
		os.Exit(1)
	}
	return resident * int64(os.Getpagesize())
}

func benchRSSParked() {
	var wg sync.WaitGroup
	var started int32
	stop := make(chan struct{})
	before := rssBytes()
	wg.Add(rssN)
	for i := 0; i < rssN; i++ {
		go func() {
			atomic.AddInt32(&started, 1)
			<-stop
			wg.Done()
		}()
	}
	// Every goroutine has run up to its receive; let the last ones park.
	for atomic.LoadInt32(&started) < rssN {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	after := rssBytes()
	close(stop)
	wg.Wait()
	fmt.Printf("rss_parked bytes_per_op=%.1f before_kb=%d after_kb=%d n=%d procs=%d prim=chan\n",
		float64(after-before)/rssN, before/1024, after/1024, rssN,
		runtime.GOMAXPROCS(0))
}

var benches = []struct {
	name string
	fn   func()
}{
	// rss_parked first: see the package comment.
	{"rss_parked", benchRSSParked},
	{"spawn_join", benchSpawnJoin},
	{"yield", benchYield},
	{"parkunpark", benchParkUnpark},
}

func usage() {
	fmt.Fprint(os.Stderr, "usage: sched-go [bench...]\nbenches:")
	for _, b := range benches {
		fmt.Fprint(os.Stderr, " ", b.name)
	}
	fmt.Fprintln(os.Stderr)
	os.Exit(2)
}

func main() {
	run := make([]bool, len(benches))
	for _, arg := range os.Args[1:] {
		found := false
		for j, b := range benches {
			if arg == b.name {
				run[j] = true
				found = true
			}
		}
		if !found {
			usage()
		}
	}
	if len(os.Args) == 1 {
		for j := range run {
			run[j] = true
		}
	}
	fmt.Printf("# %s sched bench: procs=%d ncpu=%d\n", runtime.Version(),
		runtime.GOMAXPROCS(0), runtime.NumCPU())
	for j, b := range benches {
		if run[j] {
			b.fn()
		}
	}
}
