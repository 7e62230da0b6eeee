package lab

import (
	"io"
	"time"

	"github.com/flatline-dev/flatline"
)

// Options configure a lab run. The zero value is not enough: Endpoint must
// say how to start the server endpoint process.
type Options struct {
	// Timeout is T, the promise under test. Zero means 3 s.
	Timeout time.Duration
	// Cells to run; nil means Matrix(false, "").
	Cells []Cell
	// Cap is how long a cell waits for an error after its fault. Zero
	// means 10 × Timeout: long enough that a "never" is not merely slow.
	Cap time.Duration
	// Parallel is how many cells run at once, each in its own namespaces.
	// Zero means 64: cells mostly wait, but their traffic loads the CPU.
	Parallel int
	// Endpoint is the argv that starts a server endpoint: a program that
	// calls RunEndpoint when EndpointEnv is set (the flatline binary's
	// hidden "lab endpoint" command, or a test binary's TestMain).
	Endpoint []string
	// Progress, if set, is called after each cell with the number done.
	Progress func(done, total int, last CellResult)
	// Enforce attaches flatline enforce with cfg to the cgroup v2
	// directory at path, for the enforced cells (enforce.Attach; the lab
	// does not import it, so that enforce's own tests may use the lab).
	// Nil: enforced cells fail and say so.
	Enforce func(path string, cfg flatline.Config) (io.Closer, error)
}

// Result is a whole run, data first: the table, the summary, the JSON and
// the chart are all made from it.
type Result struct {
	TimeoutS float64      `json:"timeout_s"`
	Kernel   string       `json:"kernel"`
	Cells    []CellResult `json:"cells"`
}

// CellResult is one measured cell. Times are seconds from the fault
// instant (for connect, from the dial).
type CellResult struct {
	Workload  Workload   `json:"workload"`
	Fault     Fault      `json:"fault"`
	Config    ConfigName `json:"config"`
	ExpectedS *float64   `json:"expected_s"` // the promise (Bound.Worst); null: nothing promised (never)
	DetectedS *float64   `json:"detected_s"` // the first error; null: none within the cap
	CapS      float64    `json:"cap_s"`
	Error     string     `json:"error"` // the application's first error, "" if none
	Cause     string     `json:"cause"` // flatline.Diagnose of that error
	Verdict   Verdict    `json:"verdict"`
	// SilentAfterS is, for the keepalive states (idle, receiving), how long
	// after the fault the client last heard from the peer (tcp_info's last
	// data or ACK received, the clock keepalive runs on): the promise runs
	// from then, and the verdict compares detected_s − silent_after_s with
	// it. Zero when the peer went silent at the fault.
	SilentAfterS float64 `json:"silent_after_s"`
	// FalseKillChance is, on a path with random loss, the false-kill
	// model's chance that the connection dies within the cell's time
	// though its peer is alive (verdict at-risk rather than false-kill for
	// a death it gave 1 % or more); absent for other faults.
	FalseKillChance *float64 `json:"false_kill_chance,omitempty"`
	// Local is the client connection's local address when it saw its
	// error ("" for a dial that never connected): the key that finds the
	// connection in other tools' output (flatline trace, ss) where the
	// error names none (a read's io.EOF after a write took the error).
	Local string `json:"local,omitempty"`

	// For people: the bound's slack and rule, and the connection's
	// retransmission timeout just before the fault; not in the JSON schema.
	SlackS float64 `json:"-"`
	Rule   string  `json:"-"`
	RTOS   float64 `json:"-"`
}

// Cell returns the cell this result measured.
func (r CellResult) Cell() Cell { return Cell{Workload: r.Workload, Fault: r.Fault, Config: r.Config} }

func seconds(d time.Duration) *float64 {
	s := d.Seconds()
	return &s
}
