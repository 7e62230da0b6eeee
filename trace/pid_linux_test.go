package trace

import (
	"context"
	"errors"
	"os/exec"
	"testing"
	"time"

	"github.com/flatline-dev/flatline"
)

// TestIntegrationTracePIDExits: tracing one process ends, with
// ErrProcessExited, when that process exits.
func TestIntegrationTracePIDExits(t *testing.T) {
	needRoot(t)
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	defer func() { cmd.Process.Kill(); <-waited }()
	tr, err := New(Options{PID: cmd.Process.Pid})
	if errors.Is(err, flatline.ErrNotSupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	read := make(chan error, 1)
	go func() {
		for {
			if _, err := tr.Read(ctx); err != nil {
				read <- err
				return
			}
		}
	}()
	cmd.Process.Kill()
	if err := <-read; !errors.Is(err, ErrProcessExited) {
		t.Errorf("Read after the process was killed = %v, want ErrProcessExited", err)
	}
}
