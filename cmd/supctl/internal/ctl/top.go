package ctl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/mattn/go-isatty"

	"github.com/sup-sh/sup/supervisor/api"
	"github.com/sup-sh/sup/supervisor/control"
)

// TopCommand is `supctl top`: a live full-screen view of supd, like `pm2
// monit`. The table is read again when an event says something changed
// (never polled while nothing does); CPU and memory, which change without
// events, are refreshed every usageRefresh. The selected instance's output
// follows below it. Keys act on the selected instance.
type TopCommand struct{ env }

// usageRefresh is how often top re-reads the table for CPU and memory.
const usageRefresh = 2 * time.Second

// topLogLines is how many output lines top keeps for the selected instance.
const topLogLines = 500

func (c *TopCommand) Run(ctx context.Context, args []string) error {
	c.flags()
	pos, err := c.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return c.usageError(fmt.Errorf("unexpected argument %q", pos[0]))
	}
	if f, ok := c.stdout.(*os.File); !ok || !isatty.IsTerminal(f.Fd()) {
		return errors.New("top needs a terminal: for a script, use supctl status --json or supctl events --json")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	client := c.client()
	// Reach supd before taking over the screen: an error stays readable.
	probe, pcancel := context.WithTimeout(ctx, callTimeout)
	sts, err := client.Status(probe, nil)
	pcancel()
	if err != nil {
		return err
	}
	m := &topModel{ctx: ctx, client: client, socket: c.socket, rows: sts}
	in := c.stdin
	if in == nil {
		in = os.Stdin
	}
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithAltScreen(), tea.WithInput(in), tea.WithOutput(c.stdout))
	m.send = p.Send
	go m.watchEvents()
	_, err = p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // interrupted
	}
	return err
}

// topModel is top's state. Its methods run on bubbletea's goroutine,
// except watchEvents and followLogs, which only send messages.
type topModel struct {
	ctx    context.Context
	client *control.Client
	socket string
	send   func(tea.Msg)

	rows     []api.Status
	selected string // name of the selected instance
	width    int
	height   int
	fetching bool // a status read is in flight
	stale    bool // an event came while it was: read again after it
	note     string
	noteAt   time.Time
	full     bool // the selected instance's output fills the screen

	logGen    int                // bumped when the followed instance changes
	logCancel context.CancelFunc // stops following the previous one
	logName   string
	logs      []api.LogLine
}

type (
	statusMsg struct {
		sts []api.Status
		err error
	}
	eventMsg      api.Event
	eventsDoneMsg struct{ err error }
	logMsg        struct {
		gen  int
		line api.LogLine
	}
	logsDoneMsg struct {
		gen int
		err error
	}
	actionMsg struct {
		what string
		err  error
	}
	tickMsg struct{}
)

func (m *topModel) Init() tea.Cmd {
	m.selectRow(0)
	return tea.Batch(m.tick(), m.follow())
}

func (m *topModel) tick() tea.Cmd {
	return tea.Tick(usageRefresh, func(time.Time) tea.Msg { return tickMsg{} })
}

// fetch reads the table, or notes that it must be read again once the
// read in flight is done: one read covers any number of events.
func (m *topModel) fetch() tea.Cmd {
	if m.fetching {
		m.stale = true
		return nil
	}
	m.fetching = true
	client, ctx := m.client, m.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		sts, err := client.Status(ctx, nil)
		return statusMsg{sts, err}
	}
}

// watchEvents streams supd's events into the program until ctx ends.
func (m *topModel) watchEvents() {
	err := m.client.Events(m.ctx, func(e api.Event) error {
		m.send(eventMsg(e))
		return nil
	})
	m.send(eventsDoneMsg{err})
}

// follow starts following the output of the selected instance, and stops
// following the previous one.
func (m *topModel) follow() tea.Cmd {
	if m.selected == m.logName && m.logCancel != nil {
		return nil
	}
	if m.logCancel != nil {
		m.logCancel()
	}
	m.logGen++
	m.logName, m.logs = m.selected, nil
	if m.selected == "" {
		m.logCancel = nil
		return nil
	}
	ctx, cancel := context.WithCancel(m.ctx)
	m.logCancel = cancel
	gen, name, client, send := m.logGen, m.selected, m.client, m.send
	go func() {
		err := client.Logs(ctx, name, topLogLines, time.Time{}, true, func(l api.LogLine) error {
			send(logMsg{gen, l})
			return nil
		})
		send(logsDoneMsg{gen, interrupted(ctx, err)})
	}()
	return nil
}

func (m *topModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.KeyMsg:
		return m, m.key(msg.String())
	case statusMsg:
		m.fetching = false
		if msg.err != nil {
			m.say("status: " + msg.err.Error())
		} else {
			m.rows = msg.sts
			m.keepSelection()
		}
		var cmds []tea.Cmd
		if m.stale {
			m.stale = false
			cmds = append(cmds, m.fetch())
		}
		return m, tea.Batch(append(cmds, m.follow())...)
	case eventMsg:
		m.applyEvent(api.Event(msg))
		return m, m.fetch()
	case eventsDoneMsg:
		if m.ctx.Err() == nil {
			m.say("supd ended the event stream (stopped?); press q to quit")
		}
	case logMsg:
		if msg.gen == m.logGen {
			m.logs = append(m.logs, msg.line)
			if len(m.logs) > topLogLines {
				m.logs = m.logs[len(m.logs)-topLogLines:]
			}
		}
	case logsDoneMsg:
		if msg.gen == m.logGen && msg.err != nil {
			m.say("logs: " + msg.err.Error())
		}
	case actionMsg:
		if msg.err != nil {
			m.say(msg.what + ": " + msg.err.Error())
		} else {
			m.say(msg.what + ": done")
		}
	case tickMsg:
		return m, tea.Batch(m.fetch(), m.tick())
	}
	return m, nil
}

// key handles a key press.
func (m *topModel) key(k string) tea.Cmd {
	switch k {
	case "ctrl+c":
		return tea.Quit
	case "q", "esc":
		if m.full {
			m.full = false
			return nil
		}
		return tea.Quit
	case "up", "k":
		m.move(-1)
		return m.follow()
	case "down", "j":
		m.move(1)
		return m.follow()
	case "l", "enter":
		m.full = !m.full
	case "r":
		return m.act(control.ActionRestart)
	case "x":
		return m.act(control.ActionStop)
	case "s":
		return m.act(control.ActionStart)
	}
	return nil
}

// act asks supd to restart, stop or start the selected instance, without
// waiting: the table follows what happens through the events.
func (m *topModel) act(a control.Action) tea.Cmd {
	if m.selected == "" {
		return nil
	}
	name, client, ctx := m.selected, m.client, m.ctx
	what := string(a) + " " + name
	m.say(what + "…")
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		_, err := client.Do(ctx, a, api.ActionRequest{Names: []string{name}})
		return actionMsg{what, err}
	}
}

func (m *topModel) say(note string) { m.note, m.noteAt = note, time.Now() }

// applyEvent updates the row of the event's instance at once; the read
// that follows fills in the rest.
func (m *topModel) applyEvent(e api.Event) {
	for k := range m.rows {
		if r := &m.rows[k]; r.Name == e.Name {
			r.State, r.Ready, r.Pid, r.Restarts, r.Reason = e.State, e.Ready, e.Pid, e.Restarts, e.Reason
			r.ExitCode, r.ExitSignal = e.ExitCode, e.ExitSignal
			return
		}
	}
}

func (m *topModel) index() int {
	for k, r := range m.rows {
		if r.Name == m.selected {
			return k
		}
	}
	return -1
}

func (m *topModel) selectRow(k int) {
	if len(m.rows) == 0 {
		m.selected = ""
		return
	}
	m.selected = m.rows[max(0, min(k, len(m.rows)-1))].Name
}

func (m *topModel) move(by int) { m.selectRow(m.index() + by) }

// keepSelection keeps the selected instance across reads; when it is gone
// (scaled down, removed by a reload) the first row is selected.
func (m *topModel) keepSelection() {
	if m.index() < 0 {
		m.selectRow(0)
	}
}

// View draws the screen: a title, the table with the selection marked,
// the selected instance's last output lines, and the keys.
func (m *topModel) View() string {
	width, height := m.width, m.height
	if width == 0 {
		width, height = 100, 30
	}
	var lines []string
	ready := 0
	for _, r := range m.rows {
		if r.Ready {
			ready++
		}
	}
	title := fmt.Sprintf("sup top — %d of %s ready   %s   %s", ready, api.Count(len(m.rows), "instance"), m.socket, time.Now().Format("15:04:05"))
	lines = append(lines, title)
	if !m.full {
		lines = append(lines, m.table(width)...)
	}
	keys := "↑/↓ select  r restart  x stop  s start  l follow logs  q quit"
	if m.full {
		keys = "l/q back to the table  ↑/↓ select  r restart  x stop  s start"
	}
	if m.note != "" && time.Since(m.noteAt) < 10*time.Second {
		keys += "   │ " + m.note
	}
	logRows := height - len(lines) - 2
	if logRows > 0 {
		lines = append(lines, pad("── "+m.logName+" output ", width))
		lines = append(lines, m.logTail(logRows, width)...)
	}
	lines = append(lines, keys)
	for k, l := range lines {
		lines[k] = truncate(l, width)
	}
	return strings.Join(lines, "\n")
}

// table is the status table, a REASON column last, the selected row in
// reverse video.
func (m *topModel) table(width int) []string {
	header := append(append([]string{" "}, statusHeader...), "REASON")
	cells := [][]string{header}
	for _, r := range m.rows {
		mark := " "
		if r.Name == m.selected {
			mark = ">"
		}
		reason := r.Reason
		if r.ConfigInstances != 0 {
			reason = strings.TrimPrefix(fmt.Sprintf("%s (scaled to %d, config says %d)", reason, r.ScaledInstances, r.ConfigInstances), " ")
		}
		cells = append(cells, append(append([]string{mark}, statusCells(r)...), reason))
	}
	widths := make([]int, len(header))
	for _, row := range cells {
		for k, c := range row {
			widths[k] = max(widths[k], utf8.RuneCountInString(c))
		}
	}
	var out []string
	for n, row := range cells {
		var b strings.Builder
		for k, c := range row {
			if k == len(row)-1 {
				b.WriteString(c)
			} else {
				b.WriteString(pad(c, widths[k]+2))
			}
		}
		line := truncate(b.String(), width)
		if n > 0 && m.rows[n-1].Name == m.selected {
			line = "\x1b[7m" + pad(line, width) + "\x1b[0m"
		}
		out = append(out, line)
	}
	return out
}

// logTail is the last n output lines of the followed instance, padded to
// n lines.
func (m *topModel) logTail(n, width int) []string {
	logs := m.logs
	if len(logs) > n {
		logs = logs[len(logs)-n:]
	}
	out := make([]string, 0, n)
	for _, l := range logs {
		mark := "|"
		if l.Stream == "stderr" {
			mark = "!"
		}
		out = append(out, truncate(fmt.Sprintf("%s %s %s %s", l.Time.Local().Format("15:04:05"), l.Name, mark, printable(l.Line)), width))
	}
	for len(out) < n {
		out = append(out, "")
	}
	return out
}

// printable drops control characters from a child's line (its colours,
// cursor moves) so that it cannot draw over the screen.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			if r == '\t' {
				return ' '
			}
			return -1
		}
		return r
	}, s)
}

// truncate cuts s to n characters (escape sequences are not counted, as
// only whole lines are wrapped in them here).
func truncate(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n || strings.HasPrefix(s, "\x1b[") {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}
