// SPDX-License-Identifier: MIT

// Command gc is the Go side of the gort garbage-collector benchmarks: the
// cases of bench/gc.c (and bench/gc_boehm.c), with the same sizes, the same
// random sequences, the same checks and the same output,
//
//	<name> wall_ms=<v> max_pause_us=<v> p99_pause_us=<v> gc_cpu=<v> peak_rss_mb=<v> num_gc=<n> [<key>=<value>...]
//
// where the first key=value is the result bench/run-gc compares; lines
// starting with '#' are comments.  Pauses are runtime.MemStats.PauseNs of
// the cycles that ended during the benchmark (the last 256 at most, the
// ring's size; pauses= says how many): one entry per cycle, the sum of
// its stop-the-world pauses.  p99 is the nearest-rank percentile.  gc_cpu
// is GCCPUFraction (since the program started), peak_rss_mb getrusage's
// ru_maxrss: run one benchmark per process to get its own peak.
//
//	binarytrees [depth]  The Computer Language Benchmarks Game's
//	                     binary-trees (its Go #2 program) at depth 21: a
//	                     stretch tree of depth+1, a long-lived tree of
//	                     depth, then for d = 4, 6, ..., depth one goroutine
//	                     per d builds and checks 2^(depth-d+4) trees of
//	                     depth d; results are printed in order.  Nodes are
//	                     16-byte {left, right}.  Every check is verified.
//	liveheap [MiB]       A live heap of MiB (default 1024) of linked nodes
//	                     mutated by two goroutines while the collector runs:
//	                     an array of buckets, each a list of bucketLen nodes
//	                     of 64..512 bytes (a 24-byte header {next, key,
//	                     size}, the rest payload words derived from the
//	                     key).  Then each of two goroutines, on its own half
//	                     of the buckets, MiB * opsPerMiB times replaces a
//	                     random node with a fresh one (allocate, fill, link
//	                     in, drop the old one), checking the old one's
//	                     payload.  At the end every node is checked and the
//	                     sum of key+size over all nodes is compared with
//	                     the sum the mutators kept: a mismatch exits 1.  The
//	                     work is deterministic, so check= is the same in
//	                     all three programs.  mut_* are the pauses of the
//	                     mutation phase alone.
//
// Go knows the type of each node and scans only its first word (next);
// gort and Boehm scan every word conservatively.  That is the difference
// being measured, not an artefact.
//
// Usage: gc-go [binarytrees [depth]] [liveheap [MiB]]  (default: both)
package main

import (
	"fmt"
	"gortbench/internal/bench"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"unsafe"
)

const (
	minDepth     = 4
	defaultDepth = 21

	defaultLiveMiB = 1024
	bucketLen      = 8
	opsPerMiB      = 3200 // per mutator: ~10 s with Go at 1 GiB
	mutators       = 2
	hdrSize        = 24

	seedBuild = 0x9e3779b97f4a7c15
	seedMut   = 0x2545f4914f6cdd1d
	golden    = 0x9e3779b97f4a7c15
)

// The node sizes, chosen uniformly; all are size classes of Go and gort
// (Boehm adds a byte for its interior-pointer rule and rounds up to 16).
var nodeSizes = [...]int{64, 96, 128, 192, 256, 384, 512}

var (
	depthArg = defaultDepth
	liveArg  = defaultLiveMiB
)

// rnd is xorshift64*, the same as in bench/gc.c.
func rnd(x *uint64) uint64 {
	*x ^= *x >> 12
	*x ^= *x << 25
	*x ^= *x >> 27
	return *x * 0x2545f4914f6cdd1d
}

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "gc-go: "+format+"\n", a...)
	os.Exit(1)
}

// ---- measuring ----

type gcStats struct {
	t0    int64
	numGC uint32
}

func readMemStats() *runtime.MemStats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return &ms
}

func start() gcStats {
	return gcStats{t0: bench.Nanotime(), numGC: readMemStats().NumGC}
}

// pauses returns the pause of every cycle after cycle from, sorted, in
// microseconds: cycle n's is at PauseNs[(n+255)%256].
func pauses(ms *runtime.MemStats, from uint32) []float64 {
	first := from + 1
	if ms.NumGC > 256 && first < ms.NumGC-255 {
		first = ms.NumGC - 255
	}
	var v []float64
	for n := first; n <= ms.NumGC && n > from; n++ {
		v = append(v, float64(ms.PauseNs[(n+255)%256])/1e3)
	}
	sort.Float64s(v)
	return v
}

// maxP99 returns the maximum and the nearest-rank 99th percentile.
func maxP99(v []float64) (float64, float64) {
	if len(v) == 0 {
		return 0, 0
	}
	k := (99*len(v)+99)/100 - 1 // ceil(0.99 len)
	return v[len(v)-1], v[k]
}

func peakRSSMiB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		die("getrusage: %v", err)
	}
	return float64(ru.Maxrss) / 1024
}

// report prints the result line's common part; extra follows it.
func report(name string, s gcStats, extra string) {
	t1 := bench.Nanotime()
	ms := readMemStats()
	v := pauses(ms, s.numGC)
	max, p99 := maxP99(v)
	fmt.Printf("%s wall_ms=%.0f max_pause_us=%.1f p99_pause_us=%.1f gc_cpu=%.4f peak_rss_mb=%.0f num_gc=%d pauses=%d%s\n",
		name, float64(t1-s.t0)/1e6, max, p99, ms.GCCPUFraction,
		peakRSSMiB(), ms.NumGC-s.numGC, len(v), extra)
}

// ---- binarytrees ----

type tree struct {
	left, right *tree
}

func bottomUpTree(depth int) *tree {
	if depth <= 0 {
		return &tree{}
	}
	return &tree{bottomUpTree(depth - 1), bottomUpTree(depth - 1)}
}

func (t *tree) itemCheck() int {
	if t.left == nil {
		return 1
	}
	return 1 + t.left.itemCheck() + t.right.itemCheck()
}

// checkTree dies unless n trees of depth d checked to got.
func checkTree(what string, d, n, got int) {
	if want := n * (1<<(d+1) - 1); got != want {
		die("binarytrees: %s of depth %d: check %d, want %d", what, d, got, want)
	}
}

func benchBinaryTrees() {
	maxDepth := depthArg
	if minDepth+2 > maxDepth {
		maxDepth = minDepth + 2
	}
	stretchDepth := maxDepth + 1
	s := start()

	check := bottomUpTree(stretchDepth).itemCheck()
	checkTree("stretch tree", stretchDepth, 1, check)
	fmt.Printf("# stretch tree of depth %d\t check: %d\n", stretchDepth, check)

	longLived := bottomUpTree(maxDepth)

	trees := make([]int, maxDepth+1)
	checks := make([]int, maxDepth+1)
	var wg sync.WaitGroup
	for d := minDepth; d <= maxDepth; d += 2 {
		wg.Add(1)
		go func(depth int) {
			iterations := 1 << uint(maxDepth-depth+minDepth)
			check := 0
			for i := 1; i <= iterations; i++ {
				check += bottomUpTree(depth).itemCheck()
			}
			trees[depth] = iterations
			checks[depth] = check
			wg.Done()
		}(d)
	}
	wg.Wait()
	for d := minDepth; d <= maxDepth; d += 2 {
		checkTree("trees", d, trees[d], checks[d])
		fmt.Printf("# %d\t trees of depth %d\t check: %d\n", trees[d], d, checks[d])
	}
	check = longLived.itemCheck()
	checkTree("long lived tree", maxDepth, 1, check)
	fmt.Printf("# long lived tree of depth %d\t check: %d\n", maxDepth, check)
	report("binarytrees", s, fmt.Sprintf(" depth=%d procs=%d", maxDepth, runtime.GOMAXPROCS(0)))
}

// ---- liveheap ----

// node is the header of every node; the payload follows it in the same
// object, whose type is one of node64 ... node512 (only next is a pointer).
type node struct {
	next *node
	key  uint64
	size uint32
	_    uint32
}

type node64 struct {
	node
	data [(64 - hdrSize) / 8]uint64
}
type node96 struct {
	node
	data [(96 - hdrSize) / 8]uint64
}
type node128 struct {
	node
	data [(128 - hdrSize) / 8]uint64
}
type node192 struct {
	node
	data [(192 - hdrSize) / 8]uint64
}
type node256 struct {
	node
	data [(256 - hdrSize) / 8]uint64
}
type node384 struct {
	node
	data [(384 - hdrSize) / 8]uint64
}
type node512 struct {
	node
	data [(512 - hdrSize) / 8]uint64
}

var buckets []*node

func payload(n *node) []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Add(unsafe.Pointer(n), hdrSize)),
		(int(n.size)-hdrSize)/8)
}

// newNode allocates the node that random number r describes: its key is
// r, its size nodeSizes[(r >> 32) % 7], its payload word i key ^ (i+1)*golden.
func newNode(r uint64) *node {
	var n *node
	size := nodeSizes[(r>>32)%uint64(len(nodeSizes))]
	switch size {
	case 64:
		n = &new(node64).node
	case 96:
		n = &new(node96).node
	case 128:
		n = &new(node128).node
	case 192:
		n = &new(node192).node
	case 256:
		n = &new(node256).node
	case 384:
		n = &new(node384).node
	case 512:
		n = &new(node512).node
	}
	n.key = r
	n.size = uint32(size)
	for i, d := 0, payload(n); i < len(d); i++ {
		d[i] = r ^ uint64(i+1)*golden
	}
	return n
}

func nodeSum(n *node) uint64 {
	return n.key + uint64(n.size)
}

// checkNode dies unless n's payload is what newNode wrote; full checks
// every word, else only the first and the last.
func checkNode(n *node, full bool) {
	sizeOK := false
	for _, s := range nodeSizes {
		sizeOK = sizeOK || int(n.size) == s
	}
	if !sizeOK {
		die("liveheap: node %p: bad size %d", n, n.size)
	}
	d := payload(n)
	for i := 0; i < len(d); i++ {
		if !full && i == 1 {
			i = len(d) - 1
		}
		if d[i] != n.key^uint64(i+1)*golden {
			die("liveheap: node %p: payload word %d is %#x, want %#x",
				n, i, d[i], n.key^uint64(i+1)*golden)
		}
	}
}

// mutate replaces ops random nodes of the buckets b with b%2 == id.
func mutate(id int, ops int, sum *uint64, wg *sync.WaitGroup) {
	x := uint64(seedMut) ^ uint64(id+1)*golden
	half := uint64(len(buckets) / 2)
	var delta uint64
	for i := 0; i < ops; i++ {
		r := rnd(&x)
		pp := &buckets[(r%half)*2+uint64(id)]
		for j := (r >> 40) % bucketLen; j > 0; j-- {
			pp = &(*pp).next
		}
		old := *pp
		checkNode(old, false)
		n := newNode(rnd(&x))
		n.next = old.next
		*pp = n
		delta += nodeSum(n) - nodeSum(old)
	}
	*sum = delta
	wg.Done()
}

func benchLiveHeap() {
	live := int64(liveArg) << 20
	avg := 0
	for _, s := range nodeSizes {
		avg += s
	}
	nb := int(live*int64(len(nodeSizes))/int64(bucketLen*avg)) &^ 1
	if nb < 2 {
		nb = 2
	}
	ops := liveArg * opsPerMiB
	s := start()

	// Build: each bucket a list of bucketLen nodes, pushed at the head.
	x := uint64(seedBuild)
	var sum uint64
	buckets = make([]*node, nb)
	for b := range buckets {
		for j := 0; j < bucketLen; j++ {
			n := newNode(rnd(&x))
			n.next = buckets[b]
			buckets[b] = n
			sum += nodeSum(n)
		}
	}
	tBuild := bench.Nanotime()
	mid := readMemStats().NumGC

	var wg sync.WaitGroup
	var delta [mutators]uint64
	wg.Add(mutators)
	for id := 0; id < mutators; id++ {
		go mutate(id, ops, &delta[id], &wg)
	}
	wg.Wait()
	tMut := bench.Nanotime()
	ms := readMemStats()
	mutPauses := pauses(ms, mid)
	mutMax, _ := maxP99(mutPauses)
	mutGC := ms.NumGC - mid
	for _, d := range delta {
		sum += d
	}

	// Verify: every node whole, their number and the sum.
	var got uint64
	nodes := 0
	for _, n := range buckets {
		for ; n != nil; n = n.next {
			checkNode(n, true)
			got += nodeSum(n)
			nodes++
		}
	}
	if nodes != nb*bucketLen {
		die("liveheap: %d nodes, want %d", nodes, nb*bucketLen)
	}
	if got != sum {
		die("liveheap: checksum %#016x, want %#016x", got, sum)
	}
	report("liveheap", s, fmt.Sprintf(" live_mb=%d buckets=%d nodes=%d ops=%d build_ms=%.0f mutate_ms=%.0f mut_max_pause_us=%.1f mut_num_gc=%d procs=%d check=%016x",
		liveArg, nb, nodes, mutators*ops, float64(tBuild-s.t0)/1e6,
		float64(tMut-tBuild)/1e6, mutMax, mutGC, runtime.GOMAXPROCS(0), got))
	runtime.KeepAlive(buckets)
	buckets = nil
}

var benches = []bench.Bench{
	{Name: "binarytrees", Fn: benchBinaryTrees},
	{Name: "liveheap", Fn: benchLiveHeap},
}

func main() {
	// A number after a benchmark's name is its parameter; bench.Run sees
	// the names only.
	args := os.Args[:1]
	for _, a := range os.Args[1:] {
		v, err := strconv.Atoi(a)
		if err != nil {
			args = append(args, a)
			continue
		}
		switch prev := args[len(args)-1]; {
		case prev == "binarytrees" && v >= 0 && v <= 30:
			depthArg = v
		case prev == "liveheap" && v > 0:
			liveArg = v
		default:
			args = append(args, a) // bench.Run prints the usage
		}
	}
	os.Args = args
	gogc := os.Getenv("GOGC")
	if gogc == "" {
		gogc = "100"
	}
	bench.Run("gc-go", benches, fmt.Sprintf("# gc bench: collector=%s procs=%d ncpu=%d gogc=%s",
		runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), gogc))
}
