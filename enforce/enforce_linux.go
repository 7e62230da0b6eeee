package enforce

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/flatline-dev/flatline"
	"github.com/flatline-dev/flatline/internal/kernel"
	"golang.org/x/sys/unix"
)

// Enforcer is a plan attached to a cgroup. Close detaches it.
type Enforcer struct {
	plan     flatline.Plan
	cgroup   string
	cgroupID uint64
	objs     objects
	readBack string // how apply reads a socket's values: "btf" or "getsockopt"
	apply    *link.RawLink
	guard    *link.RawLink
	pinned   string
}

// Attach loads the programs, writes the plan of o.Config into their map and
// links them to the cgroup v2 directory at path. Errors: ErrNotCgroup2,
// ErrPermission, a *flatline.NotSupportedError naming the missing kernel
// feature (matches flatline.ErrNotSupported), a flatline.ErrInvalidConfig.
// Nothing stays attached when it fails.
func Attach(path string, o Options) (*Enforcer, error) { return attachReading(path, o, true) }

// attachReading is Attach; btf false loads apply_getsockopt even where
// apply could load (the tests compare the two).
func attachReading(path string, o Options, btf bool) (*Enforcer, error) {
	plan, err := o.Config.Plan()
	if err != nil {
		return nil, err
	}
	v, err := valuesOf(plan, o.AllowLooser)
	if err != nil {
		return nil, err
	}
	cg, id, err := openCgroup2(path)
	if err != nil {
		return nil, err
	}
	defer cg.Close()
	if err := checkKernel(); err != nil {
		return nil, err
	}

	// The kernel's HZ lets apply read keepalive times (jiffies) from the
	// socket itself; unknown, it asks bpf_getsockopt.
	if hz, err := kernel.HostHZ("/"); btf && err == nil && hz > 0 {
		v.hz = uint32(hz)
	}
	e := &Enforcer{plan: plan, cgroup: path, cgroupID: id}
	e.readBack, err = loadObjects(&e.objs, v.hz)
	if err != nil {
		return nil, loadError("load the eBPF programs", err)
	}
	ok := false
	defer func() {
		if !ok {
			e.Close()
		}
	}()
	if err := e.objs.PlanMap.Put(uint32(0), planOf(v)); err != nil {
		return nil, fmt.Errorf("enforce: write the plan map: %w", err)
	}
	e.apply, err = attach(cg, e.objs.Apply, ebpf.AttachCGroupSockOps)
	if err != nil {
		return nil, err
	}
	e.guard, err = attach(cg, e.objs.Guard, ebpf.AttachCGroupSetsockopt)
	if err != nil {
		return nil, err
	}
	ok = true
	return e, nil
}

// objects are what Attach loads from enforce.c: one of its two sock_ops
// programs as apply, guard, and the maps.
type objects struct {
	Apply *ebpf.Program `ebpf:"apply"`
	Guard *ebpf.Program `ebpf:"guard"`
	enforceMaps
}

func (o *objects) Close() error {
	var errs []error
	for _, p := range []*ebpf.Program{o.Apply, o.Guard} {
		if p != nil {
			errs = append(errs, p.Close())
		}
	}
	return errors.Join(append(errs, o.enforceMaps.Close())...)
}

// loadObjects loads enforce.c's programs and maps into o. apply reads a
// socket's values from the kernel's struct tcp_sock (CO-RE: kernel BTF,
// Linux 5.10, and hz known); where that program cannot load, its twin
// apply_getsockopt is loaded under its name. It returns which was:
// "btf" or "getsockopt".
func loadObjects(o *objects, hz uint32) (string, error) {
	spec, err := loadEnforce()
	if err != nil {
		return "", err
	}
	if hz > 0 {
		err := spec.LoadAndAssign(o, nil)
		if err == nil {
			return "btf", nil
		}
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return "", err
		}
		// No kernel BTF, a kernel before 5.10 (no sk in sock_ops), a
		// verifier that refuses the reads: ask getsockopt instead.
	}
	twin := spec.Programs[enforceProgApplyGetsockopt].Copy()
	twin.Name = enforceProgApply
	spec.Programs[enforceProgApply] = twin
	*o = objects{}
	if err := spec.LoadAndAssign(o, nil); err != nil {
		return "", err
	}
	return "getsockopt", nil
}

func planOf(v values) enforcePlan {
	p := enforcePlan{
		Idle: v.idle, Intvl: v.intvl, Cnt: v.cnt, UserTimeout: v.userTimeout,
		Syncnt: v.synCnt, Offsets: v.offsets, Step: v.step, Hz: v.hz,
	}
	if v.allowLooser {
		p.AllowLooser = 1
	}
	return p
}

func attach(cg *os.File, prog *ebpf.Program, at ebpf.AttachType) (*link.RawLink, error) {
	l, err := link.AttachRawLink(link.RawLinkOptions{Target: int(cg.Fd()), Program: prog, Attach: at})
	if err != nil {
		if errors.Is(err, link.ErrNotSupported) {
			return nil, &flatline.NotSupportedError{Feature: featureCgroupLink, Needs: needsCgroupLink, GOOS: "linux"}
		}
		return nil, loadError("attach "+at.String()+" to the cgroup", err)
	}
	return l, nil
}

// loadError turns a missing privilege into ErrPermission.
func loadError(op string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("enforce: %s: %w (run as root, or with CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON): %w", op, ErrPermission, err)
	}
	return fmt.Errorf("enforce: %s: %w", op, err)
}

// checkKernel reports the first feature the running kernel lacks.
func checkKernel() error {
	probes := []struct {
		probe          func() error
		feature, needs string
	}{
		{func() error { return features.HaveProgramType(ebpf.SockOps) }, featureSockOps, needsSockOps},
		{func() error { return features.HaveProgramType(ebpf.CGroupSockopt) }, featureSockopt, needsSockopt},
	}
	for _, p := range probes {
		err := p.probe()
		switch {
		case err == nil:
		case errors.Is(err, ebpf.ErrNotSupported):
			return &flatline.NotSupportedError{Feature: p.feature, Needs: p.needs, GOOS: "linux"}
		default:
			return loadError("probe "+p.feature, err)
		}
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return os.NewSyscallError("uname", err)
	}
	release := unix.ByteSliceToString(u.Release[:])
	if v, ok := kernel.ParseVersion(release); ok && v.Less(minKernel) {
		return fmt.Errorf("enforce: kernel %s: %w", release,
			&flatline.NotSupportedError{Feature: featureSetsockopt, Needs: needsSetsockopt, GOOS: "linux"})
	}
	return nil
}

// openCgroup2 opens the cgroup v2 directory at path and returns its id.
func openCgroup2(path string) (*os.File, uint64, error) {
	var fs unix.Statfs_t
	if err := unix.Statfs(path, &fs); err != nil {
		return nil, 0, fmt.Errorf("enforce: cgroup %s: %w: %w", path, ErrNotCgroup2, os.NewSyscallError("statfs", err))
	}
	if fs.Type != unix.CGROUP2_SUPER_MAGIC {
		return nil, 0, fmt.Errorf("enforce: %s: %w: name a directory under a cgroup2 mount (see the cgroup2 line of /proc/self/mountinfo)", path, ErrNotCgroup2)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("enforce: cgroup %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("enforce: cgroup %s: %w", path, os.NewSyscallError("fstat", err))
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		f.Close()
		return nil, 0, fmt.Errorf("enforce: %s: %w: it is a file; name its directory", path, ErrNotCgroup2)
	}
	return f, st.Ino, nil
}

// Plan returns the plan being enforced.
func (e *Enforcer) Plan() flatline.Plan { return e.plan }

// Cgroup returns the cgroup path given to Attach.
func (e *Enforcer) Cgroup() string { return e.cgroup }

// Stats reads the programs' counters.
func (e *Enforcer) Stats() (Stats, error) { return readStats(e.objs.Counters) }

// readStats sums the counters' per-CPU copies (a map pinned by an older
// flatline, a plain array, has one copy).
func readStats(m *ebpf.Map) (Stats, error) {
	var c [countMax]uint64
	for i := range c {
		var err error
		if m.Type() == ebpf.PerCPUArray {
			var per []uint64
			err = m.Lookup(uint32(i), &per)
			for _, v := range per {
				c[i] += v
			}
		} else {
			err = m.Lookup(uint32(i), &c[i])
		}
		if err != nil {
			return Stats{}, fmt.Errorf("enforce: read counter %d: %w", i, err)
		}
	}
	return Stats{Connects: c[countActive], Accepts: c[countPassive], SetErrors: c[countSetErrors],
		Clamped: c[countClamped], LooserAllowed: c[countLooserPassed]}, nil
}

// The counter slots of enforce.c's enum counter.
const (
	countActive = iota
	countPassive
	countSetErrors
	countClamped
	countLooserPassed
	countMax
)

// Pin makes the enforcement outlive this process: it pins the links and
// the counters into a directory named for the cgroup under dir, which must
// be on a bpffs mount. Close then leaves the programs attached; Detach
// removes them. It returns the directory it made.
func (e *Enforcer) Pin(dir string) (string, error) {
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return "", fmt.Errorf("enforce: pin directory %s: %w", dir, os.NewSyscallError("statfs", err))
	}
	if fs.Type != unix.BPF_FS_MAGIC {
		return "", fmt.Errorf("enforce: pin directory %s is not on a bpffs mount (mount -t bpf bpf %s)", dir, dir)
	}
	d := filepath.Join(dir, pinName(e.cgroupID))
	if err := os.Mkdir(d, 0o700); err != nil {
		return "", fmt.Errorf("enforce: pin: %w (is this cgroup pinned already? flatline enforce --detach)", err)
	}
	pins := []struct {
		name string
		pin  func(string) error
	}{
		{"apply", e.apply.Pin}, {"guard", e.guard.Pin}, {"counters", e.objs.Counters.Pin},
	}
	for _, p := range pins {
		if err := p.pin(filepath.Join(d, p.name)); err != nil {
			e.unpin(d)
			return "", fmt.Errorf("enforce: pin %s: %w", p.name, err)
		}
	}
	e.pinned = d
	return d, nil
}

func (e *Enforcer) unpin(d string) {
	e.apply.Unpin()
	e.guard.Unpin()
	e.objs.Counters.Unpin()
	os.Remove(d)
}

// Close releases the programs: unless Pin pinned them, the kernel detaches
// them from the cgroup. Safe to call more than once.
func (e *Enforcer) Close() error {
	var errs []error
	for _, l := range []**link.RawLink{&e.apply, &e.guard} {
		if *l != nil {
			errs = append(errs, (*l).Close())
			*l = nil
		}
	}
	errs = append(errs, e.objs.Close())
	e.objs = objects{}
	return errors.Join(errs...)
}

// Detach removes an enforcement that Pin left on the cgroup at path under
// the bpffs directory dir, and returns its counters. ErrNotPinned: there
// was none.
func Detach(dir, path string) (Stats, error) {
	cg, id, err := openCgroup2(path)
	if err != nil {
		return Stats{}, err
	}
	cg.Close()
	d := filepath.Join(dir, pinName(id))
	if _, err := os.Stat(d); err != nil {
		return Stats{}, fmt.Errorf("enforce: %s under %s: %w", path, dir, ErrNotPinned)
	}
	return detachDir(d)
}

// detachDir unpins and closes what Pin left in d, and removes d.
func detachDir(d string) (Stats, error) {
	var stats Stats
	if m, err := ebpf.LoadPinnedMap(filepath.Join(d, "counters"), nil); err == nil {
		stats, _ = readStats(m)
		m.Unpin()
		m.Close()
	}
	var errs []error
	for _, name := range []string{"apply", "guard"} {
		l, err := link.LoadPinnedLink(filepath.Join(d, name), nil)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, loadError("load pinned "+name, err))
			}
			continue
		}
		if err := l.Unpin(); err != nil {
			errs = append(errs, err)
		}
		errs = append(errs, l.Close())
	}
	if err := os.Remove(d); err != nil {
		errs = append(errs, err)
	}
	return stats, errors.Join(errs...)
}

// Program is an eBPF program attached to a cgroup.
type Program struct {
	ID     uint32
	Name   string
	Attach string // "sock_ops", "setsockopt", ...
}

// Attached lists the sock_ops and setsockopt programs attached to the
// cgroup at path itself (not those it inherits from its parents).
func Attached(path string) ([]Program, error) {
	cg, _, err := openCgroup2(path)
	if err != nil {
		return nil, err
	}
	defer cg.Close()
	var out []Program
	for _, at := range []ebpf.AttachType{ebpf.AttachCGroupSockOps, ebpf.AttachCGroupSetsockopt} {
		r, err := link.QueryPrograms(link.QueryOptions{Target: int(cg.Fd()), Attach: at})
		if err != nil {
			return nil, loadError("query "+at.String()+" programs", err)
		}
		for _, p := range r.Programs {
			prog := Program{ID: uint32(p.ID), Attach: attachName(at)}
			if pr, err := ebpf.NewProgramFromID(p.ID); err == nil {
				if info, err := pr.Info(); err == nil {
					prog.Name = info.Name
				}
				pr.Close()
			}
			out = append(out, prog)
		}
	}
	return out, nil
}

func attachName(at ebpf.AttachType) string {
	switch at {
	case ebpf.AttachCGroupSockOps:
		return "sock_ops"
	case ebpf.AttachCGroupSetsockopt:
		return "setsockopt"
	}
	return at.String()
}
