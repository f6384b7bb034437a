// Package bench holds what the Go twins of the gort benchmarks share: the
// clock, the median of rounds, RSS, and choosing benchmarks from the
// command line.
package bench

import (
	"fmt"
	"os"
	"sort"
	"time"
)

var epoch = time.Now()

// Nanotime is a monotonic clock in nanoseconds.
func Nanotime() int64 {
	return int64(time.Since(epoch))
}

// Median sorts v (so v[0] is then the minimum) and returns its median.
func Median(v []float64) float64 {
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// RSSBytes returns the resident set size from /proc/self/statm.
func RSSBytes(prog string) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		fmt.Fprintln(os.Stderr, prog+":", err)
		os.Exit(1)
	}
	var size, resident int64
	if _, err := fmt.Sscan(string(b), &size, &resident); err != nil {
		fmt.Fprintln(os.Stderr, prog+": /proc/self/statm:", err)
		os.Exit(1)
	}
	return resident * int64(os.Getpagesize())
}

// Bench is one named benchmark.
type Bench struct {
	Name string
	Fn   func()
}

// Run prints header, then runs the benchmarks named in os.Args (all of
// them with no argument); an unknown name prints the usage and exits 2.
func Run(prog string, benches []Bench, header string) {
	run := make([]bool, len(benches))
	for _, arg := range os.Args[1:] {
		found := false
		for j, b := range benches {
			if arg == b.Name {
				run[j] = true
				found = true
			}
		}
		if !found {
			fmt.Fprintf(os.Stderr, "usage: %s [bench...]\nbenches:", prog)
			for _, b := range benches {
				fmt.Fprint(os.Stderr, " ", b.Name)
			}
			fmt.Fprintln(os.Stderr)
			os.Exit(2)
		}
	}
	if len(os.Args) == 1 {
		for j := range run {
			run[j] = true
		}
	}
	fmt.Println(header)
	for j, b := range benches {
		if run[j] {
			b.Fn()
		}
	}
}
