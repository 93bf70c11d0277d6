package devnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Process is one child process of the devnet.
type Process struct {
	// Name identifies the process in logs and in devnet.json.
	Name string
	// Argv is the full command line (Argv[0] is the program); it restarts the process exactly.
	Argv []string
	// LogPath receives the process's stdout and stderr (appended).
	LogPath string
	// Env is added to the devnet's own environment.
	Env []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	// adopted is the pid of a process started by hand with Argv and adopted (adopt.go).
	adopted int
}

// ErrNotRunning is returned when stopping or waiting for a process that is not running.
var ErrNotRunning = errors.New("devnet: process is not running")

// Start starts the process. It returns once the OS process exists; use a readiness check to
// know when it serves.
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil || p.adopted != 0 {
		return fmt.Errorf("devnet: %s is already running (pid %d)", p.Name, p.pidLocked())
	}
	if len(p.Argv) == 0 {
		return fmt.Errorf("devnet: %s has no command line", p.Name)
	}
	logf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("devnet: %s log: %w", p.Name, err)
	}
	cmd := exec.Command(p.Argv[0], p.Argv[1:]...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Env = append(os.Environ(), p.Env...)
	// A process group of its own: a Ctrl-C at the terminal reaches the devnet only, which then
	// stops its children in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("devnet: starting %s: %w", p.Name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.err = cmd, done, nil
	go func() {
		err := cmd.Wait()
		logf.Close()
		p.mu.Lock()
		p.err = err
		if p.cmd == cmd {
			p.cmd = nil
		}
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// Pid returns the process ID, or 0 if it is not running.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pidLocked()
}

func (p *Process) pidLocked() int {
	if p.cmd != nil {
		return p.cmd.Process.Pid
	}
	return p.adopted
}

// Running reports whether the process is running.
func (p *Process) Running() bool { return p.Pid() != 0 }

// Exited returns a channel closed when the current run of the process ends (nil if it is not
// running) and, once closed, Err tells how it ended.
func (p *Process) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil && p.adopted == 0 {
		return nil
	}
	return p.done
}

// Err returns how the last run ended (nil for a clean exit).
func (p *Process) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Stop asks the process to exit with SIGTERM and kills it if it has not exited within grace.
func (p *Process) Stop(grace time.Duration) error {
	return p.signal(syscall.SIGTERM, grace)
}

// Kill kills the process at once (SIGKILL), as a crash would.
func (p *Process) Kill() error { return p.signal(syscall.SIGKILL, 10*time.Second) }

func (p *Process) signal(sig syscall.Signal, grace time.Duration) error {
	p.mu.Lock()
	cmd, done, adopted := p.cmd, p.done, p.adopted
	p.mu.Unlock()
	if cmd == nil && adopted != 0 {
		return p.signalAdopted(adopted, done, sig, grace)
	}
	if cmd == nil {
		return ErrNotRunning
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("devnet: signalling %s: %w", p.Name, err)
	}
	select {
	case <-done:
		return nil
	case <-time.After(grace):
	}
	if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("devnet: killing %s: %w", p.Name, err)
	}
	<-done
	return nil
}

// WaitReady polls ready until it returns nil, the process exits, or ctx ends.
func (p *Process) WaitReady(ctx context.Context, log *slog.Logger, ready func(context.Context) error) error {
	exited := p.Exited()
	if exited == nil {
		return fmt.Errorf("devnet: %s: %w", p.Name, ErrNotRunning)
	}
	var last error
	for delay := 20 * time.Millisecond; ; delay = min(delay*2, 500*time.Millisecond) {
		attempt, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = ready(attempt)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("devnet: %s exited before it was ready (%v); see %s", p.Name, p.Err(), p.LogPath)
		case <-ctx.Done():
			return fmt.Errorf("devnet: %s not ready: %w (last error: %v)", p.Name, ctx.Err(), last)
		case <-time.After(delay):
			log.Debug("waiting for process", "name", p.Name, "err", last)
		}
	}
}
