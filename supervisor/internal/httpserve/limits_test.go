package httpserve

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// withLimits serves h with limits l until the test ends, and returns its
// address.
func withLimits(t *testing.T, l Limits, h http.Handler) string {
	t.Helper()
	saved := DefaultLimits
	DefaultLimits = l
	t.Cleanup(func() { DefaultLimits = saved })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, &http.Server{Handler: h}, ln, "test", zerolog.Nop()) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// Connections past MaxConns are not accepted (they wait in the kernel's
// queue, costing the server no fd) until one closes; then they are served.
func TestMaxConns(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	l := DefaultLimits
	l.MaxConns = 4
	addr := withLimits(t, l, h)

	var held []net.Conn
	for range 4 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		// A complete request: the connection is surely accepted.
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
			t.Fatal(err)
		}
	}
	extra, err := net.Dial("tcp", addr) // completes in the kernel's queue
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	fmt.Fprint(extra, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	extra.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := extra.Read(make([]byte, 1)); err == nil {
		t.Fatal("a fifth connection was served while 4 were open")
	}
	held[0].Close()
	extra.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(extra), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("once one closed, the waiting connection got %v, %v", resp, err)
	}
	for _, c := range held[1:] {
		c.Close()
	}
}

// A body sent slowly is answered 408 after BodyTimeout, and the handler
// never runs; a body sent at once reaches the handler whole.
func TestBodyTimeout(t *testing.T) {
	var ran atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran.Add(1)
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, string(b))
	})
	l := DefaultLimits
	l.BodyTimeout = 300 * time.Millisecond
	addr := withLimits(t, l, h)

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestTimeout || ran.Load() != 0 {
		t.Errorf("slow body: %d, handler ran %d times; want 408 and never", resp.StatusCode, ran.Load())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("answered after %v", d)
	}

	resp, err = http.Post("http://"+addr+"/", "text/plain", strings.NewReader("whole body"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "whole body" {
		t.Errorf("handler read %q", b)
	}
}

// A stream (a response that lasts) outlives every timeout: the limits
// bound reading requests, never responses.
func TestStreamOutlivesTimeouts(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(w, "%d\n", i); err != nil {
				return
			}
			rc.Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	l := Limits{MaxConns: 2, HeaderTimeout: 100 * time.Millisecond, BodyTimeout: 100 * time.Millisecond, MaxBody: 1 << 10, IdleTimeout: 100 * time.Millisecond}
	addr := withLimits(t, l, h)
	resp, err := http.Post("http://"+addr+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	deadline := time.Now().Add(time.Second) // 10x every timeout
	n := 0
	for time.Now().Before(deadline) {
		if !sc.Scan() {
			t.Fatalf("the stream ended after %d lines: %v", n, sc.Err())
		}
		n++
	}
}
