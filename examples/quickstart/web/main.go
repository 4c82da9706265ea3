// Command web is the examples' app: a tiny HTTP server. GET / says hello
// with its pid, GET /health answers 200. On SIGTERM it finishes the
// requests in flight and exits 0.
//
// It serves, in this order of preference: the listening socket at fd
// --fd (as sup passes it: `--fd ${socket.web.fd}`); the first socket of
// the systemd protocol (LISTEN_FDS, when LISTEN_PID is this process's pid,
// which supd and systemd both set); else its own port, --host (default
// 127.0.0.1) at --port, else $PORT, else 8080.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on (0.0.0.0 for all)")
	port := flag.String("port", os.Getenv("PORT"), "port to listen on (default $PORT, else 8080)")
	fd := flag.Int("fd", 0, "serve the listening socket inherited at this fd (e.g. 3) instead of a port")
	flag.Parse()
	if *port == "" {
		*port = "8080"
	}
	ln, err := listener(*fd, net.JoinHostPort(*host, *port))
	if err != nil {
		log.Fatal(err)
	}
	if err := run(ln); err != nil {
		log.Fatal(err)
	}
}

// listener returns the inherited socket at fd, else the first one of
// LISTEN_FDS meant for this process, else a new one on addr.
func listener(fd int, addr string) (net.Listener, error) {
	if fd == 0 && os.Getenv("LISTEN_PID") == strconv.Itoa(os.Getpid()) && os.Getenv("LISTEN_FDS") != "" {
		fd = 3 // SD_LISTEN_FDS_START
	}
	if fd == 0 {
		return net.Listen("tcp", addr)
	}
	f := os.NewFile(uintptr(fd), "listen-fd")
	defer f.Close() // FileListener has its own copy
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("fd %d: %w", fd, err)
	}
	return ln, nil
}

func run(ln net.Listener) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from pid %d\n", os.Getpid())
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Printf("serving http://%s", ln.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Print("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
