// SPDX-License-Identifier: MIT

// Command map is the Go side of the gort map benchmarks: the cases of
// bench/map.c, with the same keys, counts, values and checks, and the
// same output,
//
//	<name> <metric>=<value> [<key>=<value>...]
//
// where the first key=value is the result bench/run-map compares and
// check= a checksum that must be the same on both sides; lines starting
// with '#' are comments.  Every case runs benchRounds rounds after one
// untimed warm-up round and reports the median (min= is the best); every
// round gives the same check= or the program exits 1.
//
// Keys are the outputs of splitmix64 from keySeed: the first n are the
// keys stored ("hit"), the next n the keys looked up and absent ("miss";
// splitmix64 is a bijection of its counter, so all 2n are distinct).  A
// string key is the key's 16 lower-case hex digits: one string holds the
// bytes of all of them and the keys are 16-byte substrings of it, made
// before timing ([]string).  Values are the key's index i.  The maps are
// map[uint64]uint64 (u64) and map[string]int (str), at n = 1000 (1k) and
// n = 1000000 (1m); GOMAXPROCS=1.  A round does reps passes over the n
// keys, reps from size1k, size1m (a round takes >= ~50 ms on Go):
//
//	<map>_insert       make(map) with no hint, then m[k] = i for the n
//	                   keys, reps times (a new map each time; the make
//	                   is timed, as in Go's own map benchmarks); ns per
//	                   key.  The last map's contents are checked after
//	                   the round.
//	<map>_insert_hint  the same with make(map, n).
//	<map>_lookup_hit   v, ok := m[k] for every stored key, in key order,
//	                   on one map filled before the rounds (no hint);
//	                   check= the sum of the values found.
//	<map>_lookup_miss  the same for the n absent keys; none may be found.
//	<map>_delete       a map made with make(map, n) and filled (untimed),
//	                   then delete(m, k) for every key (timed), reps
//	                   times; the map must end empty.
//	<map>_iterate      for k, v := range m over the filled map; ns per
//	                   entry; each pass must see n entries, the sum of
//	                   the values and the xor of the keys (u64) or the
//	                   total key length (str).
//
// syncmap_load99_p2  GOMAXPROCS=2; a sync.Map holding syncKeys uint64
// keys (boxed before timing) with *uint64 values, promoted to its
// read-only view before the rounds; syncWorkers goroutines each do
// syncOps operations on keys chosen by xorshift64: every syncStoreEvery-th
// a Store of the key's own value, the others a Load, which must find it;
// ns per operation (elapsed / all workers' operations), from starting the
// workers to joining them.
//
// Maps are kept in global variables so that they are heap-allocated, as
// gort's always are.  Usage: map-go [u64_1k|u64_1m|str_1k|str_1m|syncmap...]
// (default: all)
package main

import (
	"fmt"
	"gortbench/internal/bench"
	"os"
	"runtime"
	"sync"
)

const (
	benchRounds    = 5
	benchProcs     = 1
	keySeed        = 0x6a09e667f3bcc908
	keyLen         = 16
	syncKeys       = 1024
	syncProcs      = 2
	syncWorkers    = 2
	syncOps        = 4000000
	syncStoreEvery = 100
)

// wrong reports a map that does not hold what was stored.
func wrong(bench, what string, got, want uint64) {
	fmt.Fprintf(os.Stderr, "map-go: %s: wrong %s: got %d, want %d\n",
		bench, what, got, want)
	os.Exit(1)
}

func numGC() uint32 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.NumGC
}

// splitmix64 advances *state and returns its next output.
func splitmix64(state *uint64) uint64 {
	*state += 0x9e3779b97f4a7c15
	z := *state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// keys holds the n stored and n absent keys of a case, as integers and as
// strings, and what a pass over the stored ones must find.
type keys struct {
	n         int
	hit, miss []uint64
	hitStr    []string
	missStr   []string
	keyXor    uint64 // xor of hit
	valSum    uint64 // 0 + 1 + ... + n-1
}

func makeKeys(n int) *keys {
	const hexdig = "0123456789abcdef"
	k := &keys{n: n, hit: make([]uint64, n), miss: make([]uint64, n),
		hitStr: make([]string, n), missStr: make([]string, n)}
	state := uint64(keySeed)
	for i := range k.hit {
		k.hit[i] = splitmix64(&state)
		k.keyXor ^= k.hit[i]
		k.valSum += uint64(i)
	}
	for i := range k.miss {
		k.miss[i] = splitmix64(&state)
	}
	buf := make([]byte, 2*n*keyLen)
	for i := 0; i < 2*n; i++ {
		x := k.hit[i%n]
		if i >= n {
			x = k.miss[i-n]
		}
		for j := keyLen - 1; j >= 0; j-- {
			buf[i*keyLen+j] = hexdig[x&15]
			x >>= 4
		}
	}
	all := string(buf)
	for i := 0; i < n; i++ {
		k.hitStr[i] = all[i*keyLen : (i+1)*keyLen]
		k.missStr[i] = all[(n+i)*keyLen : (n+i+1)*keyLen]
	}
	return k
}

// size is a map size and the passes of a round in each case.
type size struct {
	name                                     string
	n                                        int
	insert, insertHint, lookup, del, iterate int
}

var (
	size1k = size{"1k", 1000, 1000, 2000, 10000, 3000, 5000}
	size1m = size{"1m", 1000000, 1, 1, 2, 1, 4}
)

// report runs round once untimed, then benchRounds times, checks every
// round gave the same check value, and prints the line.
func report(name string, round func() (float64, uint64), procs, n, reps int) {
	v := make([]float64, benchRounds)
	old := runtime.GOMAXPROCS(procs)
	_, check := round()
	gc0 := numGC()
	for r := range v {
		var c uint64
		v[r], c = round()
		if c != check {
			wrong(name, "check", c, check)
		}
	}
	gcs := numGC() - gc0
	med := bench.Median(v)
	fmt.Printf("%s ns_per_op=%.2f min=%.2f n=%d reps=%d check=%d num_gc=%d rounds=%d procs=%d\n",
		name, med, v[0], n, reps, check, gcs, benchRounds,
		runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(old)
}

// ---- map[uint64]uint64 ----

var sinkU64 map[uint64]uint64

func fillU64(m map[uint64]uint64, k *keys) {
	for i, key := range k.hit {
		m[key] = uint64(i)
	}
}

// verifyU64 checks m holds exactly the stored keys with their values.
func verifyU64(name string, m map[uint64]uint64, k *keys) {
	if len(m) != k.n {
		wrong(name, "len", uint64(len(m)), uint64(k.n))
	}
	for i, key := range k.hit {
		v, ok := m[key]
		if !ok || v != uint64(i) {
			wrong(name, "value", v, uint64(i))
		}
	}
	for _, key := range k.miss {
		if _, ok := m[key]; ok {
			wrong(name, "absent key found", 1, 0)
		}
	}
}

func insertU64(name string, k *keys, hint bool, reps int) (float64, uint64) {
	n := k.n
	var check uint64
	t0 := bench.Nanotime()
	for r := 0; r < reps; r++ {
		var m map[uint64]uint64
		if hint {
			m = make(map[uint64]uint64, n)
		} else {
			m = make(map[uint64]uint64)
		}
		sinkU64 = m
		for i, key := range k.hit {
			m[key] = uint64(i)
		}
		check += uint64(len(m))
	}
	t1 := bench.Nanotime()
	verifyU64(name, sinkU64, k)
	sinkU64 = nil
	return float64(t1-t0) / float64(reps*n), check
}

func lookupU64(name string, m map[uint64]uint64, k *keys, miss bool, reps int) (float64, uint64) {
	ks := k.hit
	if miss {
		ks = k.miss
	}
	var sum, found uint64
	t0 := bench.Nanotime()
	for r := 0; r < reps; r++ {
		for _, key := range ks {
			if v, ok := m[key]; ok {
				sum += v
				found++
			}
		}
	}
	t1 := bench.Nanotime()
	want := uint64(reps * k.n)
	if miss {
		want = 0
	}
	if found != want {
		wrong(name, "found", found, want)
	}
	if sum != uint64(reps)*k.valSum && !miss {
		wrong(name, "sum", sum, uint64(reps)*k.valSum)
	}
	return float64(t1-t0) / float64(reps*k.n), sum
}

func deleteU64(name string, k *keys, reps int) (float64, uint64) {
	var el int64
	var check uint64
	for r := 0; r < reps; r++ {
		m := make(map[uint64]uint64, k.n)
		sinkU64 = m
		fillU64(m, k)
		t0 := bench.Nanotime()
		for _, key := range k.hit {
			delete(m, key)
		}
		el += bench.Nanotime() - t0
		if len(m) != 0 {
			wrong(name, "len", uint64(len(m)), 0)
		}
		check += uint64(k.n)
	}
	sinkU64 = nil
	return float64(el) / float64(reps*k.n), check
}

func iterateU64(name string, m map[uint64]uint64, k *keys, reps int) (float64, uint64) {
	var el int64
	var check uint64
	for r := 0; r < reps; r++ {
		var cnt, vsum, kx uint64
		t0 := bench.Nanotime()
		for key, v := range m {
			cnt++
			vsum += v
			kx ^= key
		}
		el += bench.Nanotime() - t0
		if cnt != uint64(k.n) {
			wrong(name, "entries", cnt, uint64(k.n))
		}
		if vsum != k.valSum {
			wrong(name, "value sum", vsum, k.valSum)
		}
		if kx != k.keyXor {
			wrong(name, "key xor", kx, k.keyXor)
		}
		check += cnt
	}
	return float64(el) / float64(reps*k.n), check
}

func benchU64(sz size) {
	k := makeKeys(sz.n)
	pre := "map_u64_" + sz.name + "_"
	report(pre+"insert", func() (float64, uint64) {
		return insertU64(pre+"insert", k, false, sz.insert)
	}, benchProcs, sz.n, sz.insert)
	report(pre+"insert_hint", func() (float64, uint64) {
		return insertU64(pre+"insert_hint", k, true, sz.insertHint)
	}, benchProcs, sz.n, sz.insertHint)
	m := make(map[uint64]uint64)
	sinkU64 = m
	fillU64(m, k)
	verifyU64(pre+"lookup", m, k)
	report(pre+"lookup_hit", func() (float64, uint64) {
		return lookupU64(pre+"lookup_hit", m, k, false, sz.lookup)
	}, benchProcs, sz.n, sz.lookup)
	report(pre+"lookup_miss", func() (float64, uint64) {
		return lookupU64(pre+"lookup_miss", m, k, true, sz.lookup)
	}, benchProcs, sz.n, sz.lookup)
	report(pre+"delete", func() (float64, uint64) {
		return deleteU64(pre+"delete", k, sz.del)
	}, benchProcs, sz.n, sz.del)
	sinkU64 = m
	report(pre+"iterate", func() (float64, uint64) {
		return iterateU64(pre+"iterate", m, k, sz.iterate)
	}, benchProcs, sz.n, sz.iterate)
	sinkU64 = nil
}

// ---- map[string]int ----

var sinkStr map[string]int

func fillStr(m map[string]int, k *keys) {
	for i, key := range k.hitStr {
		m[key] = i
	}
}

// verifyStr checks m holds exactly the stored keys with their values.
func verifyStr(name string, m map[string]int, k *keys) {
	if len(m) != k.n {
		wrong(name, "len", uint64(len(m)), uint64(k.n))
	}
	for i, key := range k.hitStr {
		v, ok := m[key]
		if !ok || v != i {
			wrong(name, "value", uint64(v), uint64(i))
		}
	}
	for _, key := range k.missStr {
		if _, ok := m[key]; ok {
			wrong(name, "absent key found", 1, 0)
		}
	}
}

func insertStr(name string, k *keys, hint bool, reps int) (float64, uint64) {
	n := k.n
	var check uint64
	t0 := bench.Nanotime()
	for r := 0; r < reps; r++ {
		var m map[string]int
		if hint {
			m = make(map[string]int, n)
		} else {
			m = make(map[string]int)
		}
		sinkStr = m
		for i, key := range k.hitStr {
			m[key] = i
		}
		check += uint64(len(m))
	}
	t1 := bench.Nanotime()
	verifyStr(name, sinkStr, k)
	sinkStr = nil
	return float64(t1-t0) / float64(reps*n), check
}

func lookupStr(name string, m map[string]int, k *keys, miss bool, reps int) (float64, uint64) {
	ks := k.hitStr
	if miss {
		ks = k.missStr
	}
	var sum, found uint64
	t0 := bench.Nanotime()
	for r := 0; r < reps; r++ {
		for _, key := range ks {
			if v, ok := m[key]; ok {
				sum += uint64(v)
				found++
			}
		}
	}
	t1 := bench.Nanotime()
	want := uint64(reps * k.n)
	if miss {
		want = 0
	}
	if found != want {
		wrong(name, "found", found, want)
	}
	if sum != uint64(reps)*k.valSum && !miss {
		wrong(name, "sum", sum, uint64(reps)*k.valSum)
	}
	return float64(t1-t0) / float64(reps*k.n), sum
}

func deleteStr(name string, k *keys, reps int) (float64, uint64) {
	var el int64
	var check uint64
	for r := 0; r < reps; r++ {
		m := make(map[string]int, k.n)
		sinkStr = m
		fillStr(m, k)
		t0 := bench.Nanotime()
		for _, key := range k.hitStr {
			delete(m, key)
		}
		el += bench.Nanotime() - t0
		if len(m) != 0 {
			wrong(name, "len", uint64(len(m)), 0)
		}
		check += uint64(k.n)
	}
	sinkStr = nil
	return float64(el) / float64(reps*k.n), check
}

func iterateStr(name string, m map[string]int, k *keys, reps int) (float64, uint64) {
	var el int64
	var check uint64
	for r := 0; r < reps; r++ {
		var cnt, vsum, klen uint64
		t0 := bench.Nanotime()
		for key, v := range m {
			cnt++
			vsum += uint64(v)
			klen += uint64(len(key))
		}
		el += bench.Nanotime() - t0
		if cnt != uint64(k.n) {
			wrong(name, "entries", cnt, uint64(k.n))
		}
		if vsum != k.valSum {
			wrong(name, "value sum", vsum, k.valSum)
		}
		if klen != uint64(k.n*keyLen) {
			wrong(name, "key length", klen, uint64(k.n*keyLen))
		}
		check += cnt
	}
	return float64(el) / float64(reps*k.n), check
}

func benchStr(sz size) {
	k := makeKeys(sz.n)
	pre := "map_str_" + sz.name + "_"
	report(pre+"insert", func() (float64, uint64) {
		return insertStr(pre+"insert", k, false, sz.insert)
	}, benchProcs, sz.n, sz.insert)
	report(pre+"insert_hint", func() (float64, uint64) {
		return insertStr(pre+"insert_hint", k, true, sz.insertHint)
	}, benchProcs, sz.n, sz.insertHint)
	m := make(map[string]int)
	sinkStr = m
	fillStr(m, k)
	verifyStr(pre+"lookup", m, k)
	report(pre+"lookup_hit", func() (float64, uint64) {
		return lookupStr(pre+"lookup_hit", m, k, false, sz.lookup)
	}, benchProcs, sz.n, sz.lookup)
	report(pre+"lookup_miss", func() (float64, uint64) {
		return lookupStr(pre+"lookup_miss", m, k, true, sz.lookup)
	}, benchProcs, sz.n, sz.lookup)
	report(pre+"delete", func() (float64, uint64) {
		return deleteStr(pre+"delete", k, sz.del)
	}, benchProcs, sz.n, sz.del)
	sinkStr = m
	report(pre+"iterate", func() (float64, uint64) {
		return iterateStr(pre+"iterate", m, k, sz.iterate)
	}, benchProcs, sz.n, sz.iterate)
	sinkStr = nil
}

// ---- sync.Map ----

var (
	syncMap  sync.Map
	syncKey  []any    // the keys, boxed once: a Load does not allocate
	syncVals []uint64 // a key's value is &syncVals[i]
)

// syncWorker does syncOps operations and returns the loads that found
// the key's own value and those that did not.
func syncWorker(seed uint64) (hits, bad uint64) {
	x := seed
	c := 0
	for i := 0; i < syncOps; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		idx := x >> (64 - 10) // syncKeys = 1 << 10
		c++
		if c == syncStoreEvery {
			c = 0
			syncMap.Store(syncKey[idx], &syncVals[idx])
			continue
		}
		v, ok := syncMap.Load(syncKey[idx])
		if ok && v.(*uint64) == &syncVals[idx] {
			hits++
		} else {
			bad++
		}
	}
	return
}

func syncRound() (float64, uint64) {
	var wg sync.WaitGroup
	var hits, bad [syncWorkers]uint64
	t0 := bench.Nanotime()
	wg.Add(syncWorkers)
	for w := 0; w < syncWorkers; w++ {
		go func(w int) {
			hits[w], bad[w] = syncWorker(0x9e3779b97f4a7c15 * uint64(w+1))
			wg.Done()
		}(w)
	}
	wg.Wait()
	t1 := bench.Nanotime()
	var h uint64
	for w := 0; w < syncWorkers; w++ {
		if bad[w] != 0 {
			wrong("syncmap_load99_p2", "failed loads", bad[w], 0)
		}
		h += hits[w]
	}
	return float64(t1-t0) / (syncWorkers * syncOps), h
}

func benchSync() {
	k := makeKeys(syncKeys)
	syncKey = make([]any, syncKeys)
	syncVals = make([]uint64, syncKeys)
	for i := range syncKey {
		syncKey[i] = k.hit[i]
		syncVals[i] = k.hit[i]
		syncMap.Store(syncKey[i], &syncVals[i])
	}
	// Enough misses to promote the dirty map to the read-only view.
	for pass := 0; pass < 2; pass++ {
		for i := range syncKey {
			if v, ok := syncMap.Load(syncKey[i]); !ok || v.(*uint64) != &syncVals[i] {
				wrong("syncmap_load99_p2", "prestored key", 0, 1)
			}
		}
	}
	report("syncmap_load99_p2", syncRound, syncProcs, syncKeys, syncOps)
}

var benches = []bench.Bench{
	{Name: "u64_1k", Fn: func() { benchU64(size1k) }},
	{Name: "u64_1m", Fn: func() { benchU64(size1m) }},
	{Name: "str_1k", Fn: func() { benchStr(size1k) }},
	{Name: "str_1m", Fn: func() { benchStr(size1m) }},
	{Name: "syncmap", Fn: benchSync},
}

func main() {
	bench.Run("map-go", benches, fmt.Sprintf("# %s map bench: procs=%d ncpu=%d",
		runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU()))
}
