package httpserve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// A request in flight sees its context end when Serve's does, Serve returns
// nil, and the listener is closed.
func TestServeShutsDownWithContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	inFlight, ended := make(chan struct{}), make(chan error, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inFlight)
		<-r.Context().Done()
		ended <- r.Context().Err()
	})}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, srv, ln, "test server", zerolog.Nop()) }()

	go http.Get("http://" + ln.Addr().String() + "/")
	select {
	case <-inFlight:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not arrive")
	}
	cancel()
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the handler's context ended with %v", err)
		}
	case <-time.After(ShutdownTimeout):
		t.Fatal("the request in flight did not see its context end")
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve after the context ended: %v", err)
		}
	case <-time.After(2 * ShutdownTimeout):
		t.Fatal("Serve did not return")
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("the listener still accepts after Serve returned")
	}
}

// Serving that fails on its own is an error naming what and where.
func TestServeFailsOnItsOwn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	err = Serve(context.Background(), &http.Server{Handler: http.NotFoundHandler()}, ln, "test server", zerolog.Nop())
	if err == nil || !strings.HasPrefix(err.Error(), "test server "+ln.Addr().String()+": ") {
		t.Fatalf("Serve on a closed listener: %v", err)
	}
}
