// SPDX-License-Identifier: MIT

// Command heap is the Go side of the gort heap benchmarks: the cases of
// bench/heap.c, with the same counts, the same size sequences and the same
// output,
//
//	<name> <metric>=<value> [<key>=<value>...]
//
// where the first key=value is the result bench/run-heap compares; lines
// starting with '#' are comments, the first one naming the allocator.
// Timed cases run benchRounds rounds after one untimed warm-up round and
// report the median (min= is the best).  Sizes come from the same
// xorshift64* sequence as in bench/heap.c: log-uniform, every power-of-two
// octave equally likely and sizes uniform within it.
//
//	alloc_small_tN  N = 1 and 2 goroutines at GOMAXPROCS=N.  Each keeps a
//	                ring of smallRing live []byte: it fills the ring, then
//	                smallOps times allocates a new object (16..511 bytes,
//	                make([]byte, n), zeroed and noscan) into the oldest
//	                slot, writing its first byte; then it drops the ring.
//	                Go cannot free: the object it overwrites is garbage
//	                that the GC reclaims (GOGC as set, default 100), so
//	                one op is one allocation plus its share of GC work,
//	                where gort and malloc do one alloc+free.  ns_per_op =
//	                wall time of the timed loops (earliest start to latest
//	                end) / all goroutines' smallOps; gcs= counts the GC
//	                cycles per round.
//	rss_mixed       On the main goroutine.  Allocates objects of 16 B ..
//	rss_mixed_raw   64 KiB until mixLive bytes are live, then churns:
//	                drops a random live object and allocates new ones until
//	                mixLive bytes are live again, until mixChurn * mixLive
//	                bytes were allocated.  Every object is written once per
//	                4 KiB page and at its last byte.  rss_per_live = RSS
//	                (/proc/self/statm, the whole process) / live (requested)
//	                bytes, right after the churn (rss_mixed_raw, whatever
//	                garbage the GC has not collected yet included) and
//	                after runtime.GC() and debug.FreeOSMemory() (rss_mixed).
//
// Usage: heap-go [alloc_small|rss_mixed...]  (default: all)
package main

import (
	"fmt"
	"gortbench/internal/bench"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
)

const (
	benchRounds = 5
	maxWorkers  = 2

	sizesN       = 65536
	smallRing    = 4096
	smallOps     = 4000000
	smallOctaves = 5

	mixLive    = 64 << 20
	mixChurn   = 8
	mixOctaves = 12
	mixCap     = 1 << 18

	seedSmall = 0x9e3779b97f4a7c15
	seedMix   = 0x2545f4914f6cdd1d
)

var (
	smallSizes [sizesN]uint16
)

// rnd is xorshift64*, the same as in bench/heap.c.
func rnd(x *uint64) uint64 {
	*x ^= *x >> 12
	*x ^= *x << 25
	*x ^= *x >> 27
	return *x * 0x2545f4914f6cdd1d
}

// rndSize returns a log-uniform size in [16, 16 << octaves).
func rndSize(x *uint64, octaves uint64) int {
	r := rnd(x)
	base := uint64(16) << (r % octaves)
	return int(base + (r>>32)%base)
}

// ---- alloc_small ----

type worker struct {
	id     int
	t0, t1 int64
}

func smallLoop(w *worker) {
	ring := make([][]byte, smallRing)
	k := uint32(w.id * (sizesN / maxWorkers))
	for i := 0; i < smallRing; i++ {
		b := make([]byte, smallSizes[k%sizesN])
		b[0] = byte(i)
		ring[i] = b
		k++
	}
	w.t0 = bench.Nanotime()
	for i := 0; i < smallOps; i++ {
		b := make([]byte, smallSizes[k%sizesN])
		b[0] = byte(i)
		ring[i%smallRing] = b
		k++
	}
	w.t1 = bench.Nanotime()
	for i := range ring {
		ring[i] = nil
	}
}

func smallRound(n int) float64 {
	var wg sync.WaitGroup
	w := make([]worker, n)
	wg.Add(n)
	for i := range w {
		w[i].id = i
		go func(w *worker) {
			smallLoop(w)
			wg.Done()
		}(&w[i])
	}
	wg.Wait()
	t0, t1 := w[0].t0, w[0].t1
	for i := range w {
		if w[i].t0 < t0 {
			t0 = w[i].t0
		}
		if w[i].t1 > t1 {
			t1 = w[i].t1
		}
	}
	return float64(t1-t0) / float64(n*smallOps)
}

func numGC() uint32 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.NumGC
}

func benchAllocSmall() {
	x := uint64(seedSmall)
	for i := range smallSizes {
		smallSizes[i] = uint16(rndSize(&x, smallOctaves))
	}
	old := runtime.GOMAXPROCS(0)
	for n := 1; n <= maxWorkers; n++ {
		runtime.GOMAXPROCS(n)
		v := make([]float64, benchRounds)
		cold := smallRound(n)
		gc0 := numGC()
		for r := range v {
			v[r] = smallRound(n)
		}
		gcs := float64(numGC()-gc0) / benchRounds
		med := bench.Median(v)
		fmt.Printf("alloc_small_t%d ns_per_op=%.1f min=%.1f cold=%.1f ops=%d ring=%d threads=%d rounds=%d op=alloc+gc zeroed=yes gcs=%.0f\n",
			n, med, v[0], cold, n*smallOps, smallRing, n, benchRounds, gcs)
	}
	runtime.GOMAXPROCS(old)
}

// ---- rss_mixed ----

func touch(b []byte) {
	for off := 0; off < len(b); off += 4096 {
		b[off] = 1
	}
	b[len(b)-1] = 1
}

func benchRSSMixed() {
	obj := make([][]byte, mixCap)
	base := bench.RSSBytes("heap-go")
	gc0 := numGC()
	t0 := bench.Nanotime()
	x := uint64(seedMix)
	var allocated uint64
	live, n, allocs := 0, 0, 0
	for {
		for live < mixLive {
			if n == mixCap {
				fmt.Fprintln(os.Stderr, "heap-go: rss_mixed: too many objects")
				os.Exit(1)
			}
			s := rndSize(&x, mixOctaves)
			b := make([]byte, s)
			touch(b)
			obj[n] = b
			n++
			live += s
			allocated += uint64(s)
			allocs++
		}
		if allocated >= (mixChurn+1)*mixLive {
			break
		}
		v := rnd(&x) % uint64(n)
		live -= len(obj[v])
		n--
		obj[v] = obj[n]
		obj[n] = nil
	}
	t1 := bench.Nanotime()
	gcs := numGC() - gc0
	raw := bench.RSSBytes("heap-go")
	runtime.GC()
	debug.FreeOSMemory()
	rss := bench.RSSBytes("heap-go")
	fmt.Printf("rss_mixed_raw rss_per_live=%.3f rss_kb=%d live_kb=%d base_kb=%d objects=%d allocs=%d ns_per_alloc=%.0f after=churn gcs=%d\n",
		float64(raw)/float64(live), raw/1024, live/1024, base/1024, n,
		allocs, float64(t1-t0)/float64(allocs), gcs)
	fmt.Printf("rss_mixed rss_per_live=%.3f rss_kb=%d live_kb=%d base_kb=%d objects=%d after=FreeOSMemory\n",
		float64(rss)/float64(live), rss/1024, live/1024, base/1024, n)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("# go memstats: heap_alloc_kb=%d heap_inuse_kb=%d heap_sys_kb=%d heap_released_kb=%d mspan_sys_kb=%d stack_sys_kb=%d sys_kb=%d\n",
		ms.HeapAlloc/1024, ms.HeapInuse/1024, ms.HeapSys/1024,
		ms.HeapReleased/1024, ms.MSpanSys/1024, ms.StackSys/1024,
		ms.Sys/1024)
	runtime.KeepAlive(obj)
}

var benches = []bench.Bench{
	// rss_mixed first: it measures the whole process.
	{Name: "rss_mixed", Fn: benchRSSMixed},
	{Name: "alloc_small", Fn: benchAllocSmall},
}

func main() {
	gogc := os.Getenv("GOGC")
	if gogc == "" {
		gogc = "100"
	}
	bench.Run("heap-go", benches, fmt.Sprintf("# heap bench: allocator=%s procs=%d ncpu=%d gogc=%s",
		runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), gogc))
}
