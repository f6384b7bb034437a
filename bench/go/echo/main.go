// SPDX-License-Identifier: MIT

// Command echo is the Go peer of samples/echo for bench/run-net: a TCP
// echo server with one goroutine per connection, each reading into its own
// buffer (-b bytes, default 16384, as samples/echo.c) and writing back
// what it read, until the peer closes or an error.  No io.Copy: a
// TCPConn's ReadFrom would try splice, which is not what the gort sample
// does.
//
// It prints one line when it listens, as samples/echo does,
//
//	echo-go: listening on 127.0.0.1:PORT (netpoll: go1.19.8)
//
// (127.0.0.1 when it listens on every address) and serves until killed.
// GOMAXPROCS is the environment's: bench/run-net sets it.
//
// Usage: echo-go [-a ADDR] [-b BYTES]   (default :8081; 127.0.0.1:0 picks a port)
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"time"
)

func serve(c net.Conn, size int) {
	defer c.Close()
	buf := make([]byte, size)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

func main() {
	addr := flag.String("a", ":8081", "listen on `ADDR` (host:port, :port; port 0 picks one)")
	size := flag.Int("b", 16384, "read buffer `BYTES` per connection")
	flag.Parse()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo-go:", err)
		os.Exit(1)
	}
	ta := ln.Addr().(*net.TCPAddr)
	host := ta.IP.String()
	if ta.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	fmt.Printf("echo-go: listening on %s (netpoll: %s)\n",
		net.JoinHostPort(host, fmt.Sprint(ta.Port)), runtime.Version())

	for {
		c, err := ln.Accept()
		if err != nil {
			// EMFILE and the like: wait a little and retry, as
			// net/http's Serve does.
			if ne, ok := err.(net.Error); ok && ne.Temporary() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			fmt.Fprintln(os.Stderr, "echo-go:", err)
			os.Exit(1)
		}
		go serve(c, *size)
	}
}
