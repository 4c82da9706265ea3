package fanout

import (
	"context"
	"testing"
	"time"
)

func TestPublishReachesSubscribersAndNeverBlocks(t *testing.T) {
	var h Hub[int]
	if h.Active() {
		t.Fatal("active with no subscriber")
	}
	ctx, cancel := context.WithCancel(context.Background())
	fast, slow := h.Subscribe(ctx, 10), h.Subscribe(ctx, 1)
	for v := range 5 {
		h.Publish(v) // slow is full after the first: must not block
	}
	for want := range 5 {
		if got := <-fast; got != want {
			t.Fatalf("got %d, want %d", got, want)
		}
	}
	if got := <-slow; got != 0 {
		t.Fatalf("slow got %d, want 0", got)
	}
	cancel()
	deadline := time.After(5 * time.Second)
	for range fast { // closed once ctx is done
	}
	select {
	case _, ok := <-slow:
		if ok {
			t.Fatal("slow got a value after missing them")
		}
	case <-deadline:
		t.Fatal("not closed")
	}
	for h.Active() {
		select {
		case <-deadline:
			t.Fatal("still active after cancel")
		case <-time.After(time.Millisecond):
		}
	}
}
