package control

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/signame"
)

// handleScale is POST /scale: Backend.Scale and, when asked, the wait
// until instances 0 to n-1 are ready and every higher one is gone.
func (s *Server) handleScale(w http.ResponseWriter, r *http.Request) {
	var req api.ScaleRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	names := []string{req.Process}
	timeout, err := s.timeout(req.Timeout)
	switch {
	case err != nil:
	case req.Process == "":
		err = badRequest("scale: no process named")
	case strings.Contains(req.Process, ":"):
		err = badRequest("scale %s: name a process, not an instance (scale %s N)", req.Process, strings.SplitN(req.Process, ":", 2)[0])
	case req.Instances < 1:
		err = badRequest("scale %s to %d: give 1 instance or more (supctl stop %s stops them all)", req.Process, req.Instances, req.Process)
	}
	if err != nil {
		s.fail(w, r, names, err)
		return
	}
	sts, err := s.scale(r.Context(), req, timeout)
	if err != nil {
		s.fail(w, r, names, err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(sts))
}

func (s *Server) scale(ctx context.Context, req api.ScaleRequest, timeout time.Duration) ([]api.Status, error) {
	names := []string{req.Process}
	done, err := s.Backend.Scale(ctx, req.Process, req.Instances)
	if err != nil {
		return nil, err
	}
	if req.Wait {
		if err := s.await(ctx, done, names, goalReady, timeout); err != nil {
			return nil, err
		}
	}
	return s.Backend.Status(ctx, names)
}

// handleSignal is POST /signal.
func (s *Server) handleSignal(w http.ResponseWriter, r *http.Request) {
	var req api.SignalRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	sig, err := signame.Parse(req.Signal)
	if err != nil {
		s.fail(w, r, nil, badRequest("%v", err))
		return
	}
	names, err := s.expandAll(r.Context(), req.Names)
	if err != nil {
		s.fail(w, r, req.Names, err)
		return
	}
	if err := s.Backend.SendSignal(r.Context(), names, sig); err != nil {
		s.fail(w, r, req.Names, err)
		return
	}
	s.answerStatus(w, r, names)
}
