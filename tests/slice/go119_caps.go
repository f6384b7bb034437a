// Generates go119_caps.h: GO111MODULE=off go run go119_caps.go > go119_caps.h
// (then the header comment is added by hand).

// Prints the capacity sequence of append-one-at-a-time for element
// sizes 1, 8, 24 up to a length limit (Go 1.19's growslice).
package main

import "fmt"

type e24 struct{ a, b, c int64 }

func main() {
	const limit = 2000000
	var s1 []byte
	last := -1
	fmt.Print("static const size_t go119_caps_1[] = {")
	for i := 0; i < limit; i++ {
		s1 = append(s1, 1)
		if cap(s1) != last {
			last = cap(s1)
			fmt.Printf(" %d,", last)
		}
	}
	fmt.Println(" };")
	var s8 []int64
	last = -1
	fmt.Print("static const size_t go119_caps_8[] = {")
	for i := 0; i < limit; i++ {
		s8 = append(s8, 1)
		if cap(s8) != last {
			last = cap(s8)
			fmt.Printf(" %d,", last)
		}
	}
	fmt.Println(" };")
	var s24 []e24
	last = -1
	fmt.Print("static const size_t go119_caps_24[] = {")
	for i := 0; i < limit; i++ {
		s24 = append(s24, e24{})
		if cap(s24) != last {
			last = cap(s24)
			fmt.Printf(" %d,", last)
		}
	}
	fmt.Println(" };")
	// append of many at once: from cap 5 appending 7, 20, 1000
	var m []int64 = make([]int64, 5)
	fmt.Print("static const size_t go119_many_8[] = {")
	for _, n := range []int{7, 20, 1000, 3, 5000, 100000} {
		m = append(m, make([]int64, n)...)
		fmt.Printf(" %d,", cap(m))
	}
	fmt.Println(" };")
}
