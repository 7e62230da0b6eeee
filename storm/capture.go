package storm

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/flatline-dev/flatline/internal/kernel"
	"github.com/flatline-dev/flatline/internal/pcapfile"
)

// ErrNotCapture means the input is neither a pcap nor a pcapng file.
var ErrNotCapture = errors.New("storm: not a pcap or pcapng file")

// Seen is one keepalive probe found in a capture.
type Seen struct {
	At   time.Time
	Flow Flow
	Len  int // 0 (Linux) or 1 (Windows, BSD garbage byte)
}

// Capture is what reading a capture file found.
type Capture struct {
	Frames    int    // frames read
	Segments  int    // TCP segments among them
	Malformed int    // frames whose headers were broken
	Truncated bool   // the file ends inside a record, or breaks: counts cover what came before
	Stop      error  // with Truncated, where and why reading stopped (wraps pcapfile.ErrTruncated or ErrMalformed)
	Format    string // "pcap" or "pcapng"
	Probes    []Seen // keepalive probes in capture order
	First     time.Time
}

// ReadCapture reads a pcap or pcapng stream and finds its keepalive probes
// (see Detector). A file that ends inside a record, or breaks there (a
// length no capture holds), is not an error: the result says Truncated
// and covers what came before. Malformed frames are counted and skipped.
func ReadCapture(r io.Reader) (*Capture, error) {
	src, err := pcapfile.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotCapture, err)
	}
	c := &Capture{Format: string(src.Format())}
	var d Detector
	for {
		p, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			c.Truncated, c.Stop = true, err
			break
		}
		if c.Frames == 0 {
			c.First = p.Timestamp
		}
		c.Frames++
		s, err := DecodeSegment(p.LinkType, p.Data)
		if err != nil {
			if errors.Is(err, ErrTruncated) {
				c.Malformed++
			}
			continue
		}
		c.Segments++
		if d.Keepalive(s) {
			c.Probes = append(c.Probes, Seen{At: p.Timestamp, Flow: s.Flow, Len: s.Len})
		}
	}
	return c, nil
}

// WritePcap writes frames as a pcap file (Ethernet, nanosecond
// timestamps, the snap length the longest frame), as tcpdump -r, tshark
// and ReadCapture read it. Each frame's length on the wire is taken as
// its captured length.
func WritePcap(w io.Writer, frames []Frame) error {
	snap := 1
	for _, fr := range frames {
		snap = max(snap, len(fr.Data))
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	pw, err := pcapfile.NewWriter(bw, LinkEthernet, snap)
	if err != nil {
		return fmt.Errorf("storm: write pcap: %w", err)
	}
	for _, fr := range frames {
		if err := pw.WritePacket(fr.At, fr.Data, len(fr.Data)); err != nil {
			return fmt.Errorf("storm: write pcap: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("storm: write pcap: %w", err)
	}
	return nil
}

// FlowProbes is one flow's keepalive probes.
type FlowProbes struct {
	Flow   string        `json:"flow"`
	Probes int           `json:"probes"`
	First  time.Duration `json:"first_ns"` // from the capture's first frame
	Last   time.Duration `json:"last_ns"`
	Period time.Duration `json:"period_ns"` // median gap between probes; 0 with one probe
}

// Report is a capture's keepalive probes summed up: per flow, over time,
// the worst burst and the flows that probe in lockstep.
type Report struct {
	Frames     int           `json:"frames"`
	Segments   int           `json:"segments"`
	Malformed  int           `json:"malformed"`
	Truncated  bool          `json:"truncated"`
	Stop       string        `json:"stop,omitempty"` // with Truncated: where and why reading stopped
	Probes     int           `json:"probes"`
	Flows      int           `json:"flows"` // flows that sent at least one probe
	WorstBurst int           `json:"worst_burst"`
	WorstAt    time.Duration `json:"worst_at_ns"` // from the first frame
	Window     time.Duration `json:"window_ns"`   // a burst is probes within this window
	Bin        time.Duration `json:"bin_ns"`
	Histogram  []int         `json:"histogram"` // probes per Bin from the first frame
	PerFlow    []FlowProbes  `json:"per_flow"`
	// Lockstep holds groups of two or more flows whose every probe left
	// within Window of the group's first flow's: they share a timer phase.
	Lockstep [][]string `json:"lockstep"`
}

// ReferenceHZ is the kernel tick rate DefaultWindow and DefaultBin
// assume for a capture from a host whose HZ is not known: 250, the
// CONFIG_HZ of Debian's and most distributions' kernels.
const ReferenceHZ = 250

// DefaultWindow is one tick at ReferenceHZ (4 ms): probes that left
// within it left in the same timer-wheel tick.
func DefaultWindow() time.Duration { return kernel.MustWheel(ReferenceHZ).Jiffy() }

// DefaultBin is the timer wheel's level-2 bucket at ReferenceHZ (256 ms):
// timers 2.016-16.128 s ahead, keepalive idles and intervals of a few
// seconds, fire together within it.
func DefaultBin() time.Duration { return kernel.MustWheel(ReferenceHZ).Bucket(2) }

// Analyze sums up a capture. window is the burst window (zero:
// DefaultWindow), bin the histogram bin (zero: DefaultBin; widened so
// that the histogram has at most 10000 bins).
func (c *Capture) Analyze(window, bin time.Duration) Report {
	if window <= 0 {
		window = DefaultWindow()
	}
	if bin <= 0 {
		bin = DefaultBin()
	}
	r := Report{Frames: c.Frames, Segments: c.Segments, Malformed: c.Malformed, Truncated: c.Truncated,
		Probes: len(c.Probes), Window: window, Bin: bin, PerFlow: []FlowProbes{}, Lockstep: [][]string{}}
	if c.Stop != nil {
		r.Stop = c.Stop.Error()
	}
	times := make([]time.Duration, len(c.Probes))
	byFlow := map[Flow][]time.Duration{}
	var order []Flow
	for i, p := range c.Probes {
		t := p.At.Sub(c.First)
		times[i] = t
		if _, ok := byFlow[p.Flow]; !ok {
			order = append(order, p.Flow)
		}
		byFlow[p.Flow] = append(byFlow[p.Flow], t)
	}
	r.Flows = len(order)
	if len(times) > 0 {
		r.Bin = BinFor(slices.Max(times), bin, 10000)
	}
	b := WorstBurst(times, window)
	r.WorstBurst, r.WorstAt = b.Probes, b.At
	r.Histogram = Histogram(times, 0, r.Bin)
	for _, f := range order {
		ts := byFlow[f]
		slices.Sort(ts)
		r.PerFlow = append(r.PerFlow, FlowProbes{Flow: f.String(), Probes: len(ts), First: ts[0], Last: ts[len(ts)-1], Period: medianGap(ts)})
	}
	r.Lockstep = lockstep(order, byFlow, window)
	return r
}

func medianGap(ts []time.Duration) time.Duration {
	if len(ts) < 2 {
		return 0
	}
	gaps := make([]time.Duration, len(ts)-1)
	for i := range gaps {
		gaps[i] = ts[i+1] - ts[i]
	}
	slices.Sort(gaps)
	return gaps[len(gaps)/2]
}

// lockstep groups flows with at least two probes whose probe times all
// match, one for one, within window of the group's first flow. A flow
// joins the latest group it matches. Groups are found through an index
// by probe count and the window-sized slots of the first and last probes
// (a match lies in the same or the neighbouring slot), so a capture of
// many flows that start together costs n log n, not n² comparisons.
func lockstep(order []Flow, byFlow map[Flow][]time.Duration, window time.Duration) [][]string {
	type cand struct {
		f  Flow
		ts []time.Duration
	}
	var cs []cand
	for _, f := range order {
		if ts := byFlow[f]; len(ts) >= 2 {
			cs = append(cs, cand{f, ts})
		}
	}
	slices.SortStableFunc(cs, func(a, b cand) int { return cmp.Compare(a.ts[0], b.ts[0]) })
	type slotKey struct {
		n           int
		first, last int64
	}
	slot := func(t time.Duration) int64 { return int64(t / window) }
	index := map[slotKey][]int{} // head indexes, ascending
	var heads []cand
	var members [][]string
	for _, c := range cs {
		best := -1
		n, first, last := len(c.ts), slot(c.ts[0]), slot(c.ts[len(c.ts)-1])
		for df := int64(-1); df <= 0; df++ { // heads start no later than c
			for dl := int64(-1); dl <= 1; dl++ {
				hs := index[slotKey{n, first + df, last + dl}]
				for j := len(hs) - 1; j >= 0 && hs[j] > best; j-- {
					h := heads[hs[j]]
					if c.ts[0]-h.ts[0] < window && matches(h.ts, c.ts, window) {
						best = hs[j]
						break
					}
				}
			}
		}
		if best >= 0 {
			members[best] = append(members[best], c.f.String())
			continue
		}
		k := slotKey{n, first, last}
		index[k] = append(index[k], len(heads))
		heads = append(heads, c)
		members = append(members, []string{c.f.String()})
	}
	groups := [][]string{}
	for _, m := range members {
		if len(m) >= 2 {
			groups = append(groups, m)
		}
	}
	return groups
}

func matches(a, b []time.Duration, window time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if d := a[i] - b[i]; d >= window || d <= -window {
			return false
		}
	}
	return true
}
