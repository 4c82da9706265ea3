package supervisor

import (
	"fmt"

	"github.com/rs/zerolog"
	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/config"
	"github.com/sup-sh/sup/supervisor/output"
)

// recentLines is how much of an instance's output its ring keeps.
const recentLines = 64 << 10

// newSink returns the sink of an instance: supd's stream (through lines,
// unless the log block turns it off), the ring and, with `log { file }`,
// the log file, shared by every instance that names the same path.
func (s *Supervisor) newSink(spec *config.Spec, lines zerolog.Logger) *output.Sink {
	sink := output.NewSink(lines, output.NewRing(spec.Name, recentLines), s.lines)
	if spec.Log.File == "" {
		return sink
	}
	opts := output.FileOptions{Timestamps: spec.Log.Timestamps, NoStream: !spec.Log.SupdStream}
	if spec.Name != spec.Process { // one of several instances: they may share the file
		opts.Name = spec.Name
	}
	f := output.OpenFile(spec.Log.File, spec.Log.MaxSize, spec.Log.MaxFiles, s.log)
	return sink.LogTo(f, opts)
}

// logFileChecks is the `why` line of an instance whose log file drops
// lines: none while the file takes them all.
func logFileChecks(sink *output.Sink) []api.Check {
	f, dropped := sink.File(), sink.Dropped()
	if f == nil || dropped == 0 {
		return nil
	}
	answer := fmt.Sprintf("%d lines could not be written to %s", dropped, f.Path())
	if err := f.Failing(); err != nil {
		answer += " (now: " + err.Error() + ")"
	} else {
		answer += " (it takes lines again)"
	}
	return []api.Check{{Question: "log file", OK: false, Answer: answer}}
}
