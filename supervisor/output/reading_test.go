package output

import (
	"io"
	"testing"

	"github.com/rs/zerolog"
)

func TestDrainedOnceEveryPipeIsRead(t *testing.T) {
	sink := NewSink(zerolog.Nop(), NewRing("p", 1<<10), NewWriter(io.Discard))
	select {
	case <-sink.Drained():
	default:
		t.Fatal("a sink fed by no pipe is not drained")
	}
	sink.Reading(1)
	sink.Reading(1)
	drained := sink.Drained()
	sink.Reading(-1)
	select {
	case <-drained:
		t.Fatal("drained with a pipe still being read")
	default:
	}
	sink.Reading(-1)
	select {
	case <-drained:
	default:
		t.Fatal("not drained once both pipes were read")
	}
}
