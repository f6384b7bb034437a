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
	"gortbench/internal/bench"
	"runtime"
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

func spawnRound() float64 {
	var wg sync.WaitGroup
	t0 := bench.Nanotime()
	wg.Add(spawnN)
	for i := 0; i < spawnN; i++ {
		go wg.Done()
	}
	wg.Wait()
	return float64(bench.Nanotime()-t0) / spawnN
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
		med := bench.Median(v)
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
	t0 := bench.Nanotime()
	wg.Add(2)
	go fn()
	go fn()
	wg.Wait()
	return float64(bench.Nanotime()-t0) / (2 * yieldK)
}

func benchYield() {
	v := make([]float64, benchRounds)
	old := runtime.GOMAXPROCS(1)
	yieldRound()
	for r := range v {
		v[r] = yieldRound()
	}
	med := bench.Median(v)
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
	t0 := bench.Nanotime()
	for i := 0; i < pingpongK; i++ {
		ping <- struct{}{}
		<-pong
	}
	t1 := bench.Nanotime()
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
		med := bench.Median(v)
		fmt.Printf("parkunpark_p%d ns_per_op=%.1f min=%.1f k=%d rounds=%d procs=%d prim=chan\n",
			procs, med, v[0], pingpongK, benchRounds, runtime.GOMAXPROCS(0))
	}
	runtime.GOMAXPROCS(old)
}

func benchRSSParked() {
	var wg sync.WaitGroup
	var started int32
	stop := make(chan struct{})
	before := bench.RSSBytes("sched-go")
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
	after := bench.RSSBytes("sched-go")
	close(stop)
	wg.Wait()
	fmt.Printf("rss_parked bytes_per_op=%.1f before_kb=%d after_kb=%d n=%d procs=%d prim=chan\n",
		float64(after-before)/rssN, before/1024, after/1024, rssN,
		runtime.GOMAXPROCS(0))
}

var benches = []bench.Bench{
	// rss_parked first: see the package comment.
	{Name: "rss_parked", Fn: benchRSSParked},
	{Name: "spawn_join", Fn: benchSpawnJoin},
	{Name: "yield", Fn: benchYield},
	{Name: "parkunpark", Fn: benchParkUnpark},
}

func main() {
	bench.Run("sched-go", benches, fmt.Sprintf("# %s sched bench: procs=%d ncpu=%d",
		runtime.Version(),
		runtime.GOMAXPROCS(0), runtime.NumCPU()))
}
