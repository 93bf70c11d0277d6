package devnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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
	// logStart is the size of the log when the current run started (its output follows).
	logStart int64
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
	var logStart int64
	if fi, err := logf.Stat(); err == nil {
		logStart = fi.Size()
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
	p.cmd, p.done, p.err, p.logStart = cmd, done, nil, logStart
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

// bindRetries is how many times WaitReady starts again a process that exited because its
// address was in use, a second apart (another program may hold the port for a moment: the
// devnet picks its ports in advance, see freeaddr).
const bindRetries = 5

// WaitReady polls ready until it returns nil, the process exits, or ctx ends. A process that
// exits because its listen address is in use is started again, up to bindRetries times.
func (p *Process) WaitReady(ctx context.Context, log *slog.Logger, ready func(context.Context) error) error {
	exited := p.Exited()
	if exited == nil {
		return fmt.Errorf("devnet: %s: %w", p.Name, ErrNotRunning)
	}
	var last error
	restarts := 0
	for delay := 20 * time.Millisecond; ; delay = min(delay*2, 500*time.Millisecond) {
		attempt, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = ready(attempt)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-exited:
			inUse := p.addrInUse()
			if !inUse || restarts == bindRetries || p.Adopted() {
				if inUse {
					return fmt.Errorf("devnet: %s exited before it was ready (%v): its address was still in use after %d restarts; see %s",
						p.Name, p.Err(), restarts, p.LogPath)
				}
				return fmt.Errorf("devnet: %s exited before it was ready (%v); see %s", p.Name, p.Err(), p.LogPath)
			}
			restarts++
			log.Warn("process exited: its address is in use; starting it again", "name", p.Name, "restart", restarts)
			select {
			case <-ctx.Done():
				return fmt.Errorf("devnet: %s not ready: %w (its address was in use)", p.Name, ctx.Err())
			case <-time.After(time.Second):
			}
			if err := p.Start(); err != nil {
				return err
			}
			if exited = p.Exited(); exited == nil {
				return fmt.Errorf("devnet: %s: %w", p.Name, ErrNotRunning)
			}
			delay = 20 * time.Millisecond
		case <-ctx.Done():
			return fmt.Errorf("devnet: %s not ready: %w (last error: %v)", p.Name, ctx.Err(), last)
		case <-time.After(delay):
			log.Debug("waiting for process", "name", p.Name, "err", last)
		}
	}
}

// addrInUse reports whether the output of the process's last run says that it could not
// listen because the address was in use (Go's "bind: address already in use").
func (p *Process) addrInUse() bool {
	p.mu.Lock()
	start := p.logStart
	p.mu.Unlock()
	f, err := os.Open(p.LogPath)
	if err != nil {
		return false
	}
	defer f.Close()
	// The error is among the last lines the process wrote before it exited.
	const tail = 64 << 10
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	start = max(start, fi.Size()-tail)
	b, err := io.ReadAll(io.NewSectionReader(f, start, fi.Size()-start))
	return err == nil && bytes.Contains(b, []byte(syscall.EADDRINUSE.Error()))
}
