package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/bytesize"
)

// StatusCommand is `supctl status [NAME...] [--json]`.
type StatusCommand struct{ env }

func (c *StatusCommand) Run(ctx context.Context, args []string) error {
	asJSON := c.flags().Bool("json", false, "print a JSON array, one object per instance")
	names, err := c.parse(args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	sts, err := c.client().Status(ctx, names)
	if err != nil {
		return err
	}
	if *asJSON {
		if sts == nil {
			sts = []api.Status{} // [], not null
		}
		return writeJSON(c.stdout, sts)
	}
	return writeStatus(c.stdout, sts)
}

// statusHeader and statusCells are the columns of the status table.
var statusHeader = []string{"NAME", "STATE", "READY", "PID", "UPTIME", "RESTARTS", "LISTEN", "CPU", "MEM", "LAST EXIT"}

func statusCells(st api.Status) []string {
	pid, uptime, cpu, mem := "-", "-", "-", "-"
	if st.Pid != 0 {
		pid = strconv.Itoa(st.Pid)
		uptime = humanDuration(time.Duration(st.UptimeMs) * time.Millisecond)
		cpu = fmt.Sprintf("%.1f%%", st.CPUPercent)
		mem = bytesize.Format(st.MemoryBytes)
	}
	return []string{st.Name, st.State, yesNo(st.Ready), pid, uptime, strconv.Itoa(st.Restarts),
		listening(st.Listening), cpu, mem, lastExit(st)}
}

// writeStatus writes the status table: one row per instance and, below an
// instance that is not ready, the reason, and below one with a warning (an
// accept queue full), the warning.
func writeStatus(w io.Writer, sts []api.Status) error {
	t := table{}
	t.add("", statusHeader...)
	for _, st := range sts {
		var notes []string
		if !st.Ready && st.Reason != "" {
			notes = append(notes, st.Reason)
		}
		if st.Warning != "" {
			notes = append(notes, st.Warning)
		}
		t.add(strings.Join(notes, "; "), statusCells(st)...)
	}
	if err := t.write(w); err != nil {
		return err
	}
	for _, note := range scaledNotes(sts) {
		if _, err := fmt.Fprintln(w, note); err != nil {
			return err
		}
	}
	return nil
}

// scaledNotes says, for each process that runs another number of
// instances than its file says (supctl scale), by how much.
func scaledNotes(sts []api.Status) []string {
	var notes []string
	seen := map[string]bool{}
	for _, st := range sts {
		if st.ConfigInstances == 0 || seen[st.Process] {
			continue
		}
		seen[st.Process] = true
		notes = append(notes, fmt.Sprintf("* %s: scaled to %s until the next config reload (the config says %d)",
			st.Process, api.Count(st.ScaledInstances, "instance"), st.ConfigInstances))
	}
	return notes
}

// table writes left-aligned columns two spaces apart. A row may have a
// note, written on an indented line below it, outside the columns.
type table struct {
	rows  [][]string
	notes []string
}

func (t *table) add(note string, cells ...string) {
	t.rows = append(t.rows, cells)
	t.notes = append(t.notes, note)
}

func (t *table) write(w io.Writer) error {
	var widths []int
	for _, row := range t.rows {
		for i, cell := range row {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	var b strings.Builder
	for r, row := range t.rows {
		for i, cell := range row {
			if i == len(row)-1 {
				b.WriteString(cell)
			} else {
				b.WriteString(pad(cell, widths[i]+2))
			}
		}
		b.WriteByte('\n')
		if t.notes[r] != "" {
			fmt.Fprintf(&b, "  ↳ %s\n", t.notes[r])
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// pad pads s with spaces to n characters.
func pad(s string, n int) string {
	return s + strings.Repeat(" ", max(0, n-utf8.RuneCountInString(s)))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// humanDuration is d in its two largest units: "42s", "3m12s", "2h5m",
// "4d2h".
func humanDuration(d time.Duration) string {
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%dh", s/86400, s%86400/3600)
}

// listening is the LISTEN column: tcp addresses without their "tcp:".
func listening(addrs []string) string {
	if len(addrs) == 0 {
		return "-"
	}
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = strings.TrimPrefix(a, "tcp:")
	}
	return strings.Join(out, ",")
}

// lastExit is the LAST EXIT column: "1", "SIGKILL" or "-".
func lastExit(st api.Status) string {
	switch {
	case st.ExitSignal != nil:
		return *st.ExitSignal
	case st.ExitCode != nil:
		return strconv.Itoa(*st.ExitCode)
	}
	return "-"
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
