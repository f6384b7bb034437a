// SPDX-License-Identifier: MIT

// Command httpd is the Go peer of samples/httpd for bench/run-net: Go's
// net/http serving "Hello, World!\n" on GET /, the handler a Go programmer
// would write, with the server's defaults (no timeouts, keep-alive, the
// Date and Content-Type headers net/http adds).  Other paths get net/http's
// 404.
//
// It prints one line when it listens, as samples/httpd does,
//
//	httpd-go: listening on http://127.0.0.1:PORT/ (netpoll: go1.19.8)
//
// (127.0.0.1 when it listens on every address) and serves until killed.
// GOMAXPROCS is the environment's: bench/run-net sets it.
//
// Usage: httpd-go [-a ADDR]   (default :8080; 127.0.0.1:0 picks a port)
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
)

const hello = "Hello, World!\n"

func main() {
	addr := flag.String("a", ":8080", "listen on `ADDR` (host:port, :port; port 0 picks one)")
	flag.Parse()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "httpd-go:", err)
		os.Exit(1)
	}
	ta := ln.Addr().(*net.TCPAddr)
	host := ta.IP.String()
	if ta.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	fmt.Printf("httpd-go: listening on http://%s/ (netpoll: %s)\n",
		net.JoinHostPort(host, fmt.Sprint(ta.Port)), runtime.Version())

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, hello)
	})
	err = http.Serve(ln, mux)
	fmt.Fprintln(os.Stderr, "httpd-go:", err)
	os.Exit(1)
}
