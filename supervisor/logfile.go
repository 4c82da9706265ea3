package supervisor

import (
	"github.com/rs/zerolog"
	"github.com/sup-sh/sup/supervisor/config"
	"github.com/sup-sh/sup/supervisor/output"
	"github.com/sup-sh/sup/supervisor/reaper"
)

// recentLines is how much of an instance's output its ring keeps.
const recentLines = 64 << 10

// newSink returns the sink of an instance: supd's stream (through lines,
// unless the log block turns it off), the ring and, with `log { file }`,
// the log file, shared by every instance that names the same path.
func (s *Supervisor) newSink(spec *config.Spec, lines zerolog.Logger) *output.Sink {
	sink := output.NewSink(lines, output.NewRing(spec.Name, recentLines), s.out)
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

// Reaper is the supervisor's reaper, the one owner of wait4: whatever else
// supd starts (hooks) must start through it.
func (s *Supervisor) Reaper() *reaper.Reaper { return s.reaper }
