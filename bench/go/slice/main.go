// SPDX-License-Identifier: MIT

// Command slice is the Go side of the gort slice benchmarks: the cases of
// bench/slice.c, with the same counts, values and checks, and the same
// output,
//
//	<name> <metric>=<value> [<key>=<value>...]
//
// where the first key=value is the result bench/run-slice compares; lines
// starting with '#' are comments.  Every case runs benchRounds rounds after
// one untimed warm-up round and reports the median (min= is the best).
// GOMAXPROCS=1 throughout.  Elements are int64, appended one at a time
// (a []int64 array is noscan).  After every round, outside the timed part,
// the length is checked, every element against its index and their sum
// against appendN*(appendN-1)/2; a mismatch exits 1.  cap= is the final
// capacity and num_gc= the cycles completed during the timed rounds.
//
//	append_10m_int64           from a nil slice, s = append(s, i) for
//	                           i = 0..appendN-1, growing as growslice
//	                           does; ns per append, growth included.
//	append_10m_int64_prealloc  the same into make([]int64, 0, appendN),
//	                           made inside the timed part: no growth, the
//	                           final capacity is checked to be appendN;
//	                           ns per append.
//
// Elapsed time runs from before the first append (prealloc: before the
// make) to after the last.  The arrays are dropped after the round and
// left to the collector.
//
// Usage: slice-go [append|prealloc...]  (default: all)
package main

import (
	"fmt"
	"gortbench/internal/bench"
	"os"
	"runtime"
)

const (
	benchRounds = 5
	benchProcs  = 1
	appendN     = 10000000
)

// finalCap is a round's final cap, the same in every round (checked).
var finalCap int

// wrong reports an element or a count that is not what was appended.
func wrong(bench, what string, got, want int64) {
	fmt.Fprintf(os.Stderr, "slice-go: %s: wrong %s: got %d, want %d\n",
		bench, what, got, want)
	os.Exit(1)
}

func numGC() uint32 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.NumGC
}

// check checks s holds 0, 1, ..., appendN-1 and notes its cap.
func check(bench string, s []int64) {
	if len(s) != appendN {
		wrong(bench, "len", int64(len(s)), appendN)
	}
	var sum int64
	for i, e := range s {
		if e != int64(i) {
			wrong(bench, "element", e, int64(i))
		}
		sum += e
	}
	if sum != appendN*(appendN-1)/2 {
		wrong(bench, "sum", sum, appendN*(appendN-1)/2)
	}
	if finalCap != 0 && cap(s) != finalCap {
		wrong(bench, "cap", int64(cap(s)), int64(finalCap))
	}
	finalCap = cap(s)
}

// report runs round once untimed, then benchRounds times, and prints the line.
func report(name string, round func() float64, procs int) {
	v := make([]float64, benchRounds)
	old := runtime.GOMAXPROCS(procs)
	finalCap = 0
	round()
	gc0 := numGC()
	for r := range v {
		v[r] = round()
	}
	med := bench.Median(v)
	fmt.Printf("%s ns_per_op=%.2f min=%.2f n=%d cap=%d num_gc=%d rounds=%d procs=%d\n",
		name, med, v[0], appendN, finalCap, numGC()-gc0, benchRounds,
		runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(old)
}

func appendRound() float64 {
	var s []int64
	t0 := bench.Nanotime()
	for i := int64(0); i < appendN; i++ {
		s = append(s, i)
	}
	t1 := bench.Nanotime()
	check("append_10m_int64", s)
	return float64(t1-t0) / appendN
}

func benchAppend() {
	report("append_10m_int64", appendRound, benchProcs)
}

func preallocRound() float64 {
	t0 := bench.Nanotime()
	s := make([]int64, 0, appendN)
	for i := int64(0); i < appendN; i++ {
		s = append(s, i)
	}
	t1 := bench.Nanotime()
	if cap(s) != appendN {
		wrong("append_10m_int64_prealloc", "cap", int64(cap(s)), appendN)
	}
	check("append_10m_int64_prealloc", s)
	return float64(t1-t0) / appendN
}

func benchPrealloc() {
	report("append_10m_int64_prealloc", preallocRound, benchProcs)
}

var benches = []bench.Bench{
	{Name: "append", Fn: benchAppend},
	{Name: "prealloc", Fn: benchPrealloc},
}

func main() {
	bench.Run("slice-go", benches, fmt.Sprintf("# %s slice bench: procs=%d ncpu=%d",
		runtime.Version(),
		runtime.GOMAXPROCS(0), runtime.NumCPU()))
}
