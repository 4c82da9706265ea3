package control

import (
	"context"
	"net/http"

	"github.com/sup-sh/sup/supervisor/api"
)

func (s *Server) handleCheckProxy(w http.ResponseWriter, r *http.Request) {
	var req api.ProxyCheckRequest
	if err := decodeBody(w, r, &req); err != nil {
		s.fail(w, r, nil, err)
		return
	}
	rows, err := s.Backend.CheckProxy(r.Context(), req)
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	if rows == nil {
		rows = []api.ProxyCheck{}
	}
	writeJSON(w, http.StatusOK, rows)
}

// CheckProxy checks the targets of a proxy's config against what listens
// (see Backend.CheckProxy).
func (c *Client) CheckProxy(ctx context.Context, req api.ProxyCheckRequest) ([]api.ProxyCheck, error) {
	var rows []api.ProxyCheck
	err := c.call(ctx, http.MethodPost, "/check-proxy", nil, req, &rows)
	return rows, err
}
