// Package netem is a TCP proxy that makes a link look like a wide-area one: every byte it
// forwards is held back by a one-way delay per direction, paced at a rate, stalled as TCP
// stalls when a segment is lost, and the connection is reset now and then if asked. It stands
// in for `tc netem` where that is not available: the delays are real on the wire, as seen by
// both ends.
//
// A Proxy listens on one address and forwards every connection to one target. Bytes are read
// as soon as they arrive and written out when their time comes, so the bytes in flight per
// direction (bounded by Config.Window) play the part of the path's bandwidth-delay product:
// when the window is full the proxy stops reading, and TCP's flow control pushes back on the
// sender.
package netem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// Segment is the size of the unit that is lost (one TCP segment of a 1500-byte MTU path).
const Segment = 1448

// Link is one direction of an emulated path.
type Link struct {
	// Delay is the one-way delay added to every byte.
	Delay time.Duration
	// Rate is the link's bandwidth in bytes per second (0: unlimited).
	Rate int64
	// Loss is the probability that a segment is lost. TCP delivers in order, so a loss stalls
	// the stream: the segment and every byte behind it wait Stall longer.
	Loss float64
	// Stall is how long a loss holds the stream up (a retransmission: default 200 ms, Linux's
	// minimum retransmission timeout).
	Stall time.Duration
	// Reset is the probability, per segment, that the connection is reset there (both sides
	// see an abrupt close, as when a middlebox drops the connection).
	Reset float64
}

// Config is a proxy's configuration.
type Config struct {
	// Target is the address every accepted connection is forwarded to.
	Target string
	// Up is the path from the accepted connection's peer to the target, Down the way back.
	Up, Down Link
	// Handshake makes a new connection's first bytes towards the target wait as TCP's
	// handshake would on the emulated path (the proxy itself accepts at once): the target is
	// dialled when the SYN would arrive (Up.Delay), and the first bytes arrive no earlier than
	// after the SYN-ACK came back and they crossed (2*Up.Delay + Down.Delay).
	Handshake bool
	// Window bounds the bytes held in flight per direction of a connection (default 4 MiB).
	Window int
	// Seed seeds the proxy's random choices (losses and resets), so a run can be repeated.
	Seed uint64
	// Dial dials the target (default: a net.Dialer).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger gets a line per connection that fails (default: discard).
	Logger *slog.Logger
}

// Counts are the bytes a proxy forwarded and what it did to them.
type Counts struct {
	Conns    int64 // connections accepted
	Up, Down int64 // bytes forwarded towards the target and back
	Stalls   int64 // segments lost (stalls)
	Resets   int64 // connections reset
}

func (c *Counts) add(o Counts) {
	c.Conns += o.Conns
	c.Up += o.Up
	c.Down += o.Down
	c.Stalls += o.Stalls
	c.Resets += o.Resets
}

// Proxy forwards connections accepted on a listener to a target through emulated links.
type Proxy struct {
	cfg Config
	ln  net.Listener
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	rng    *rand.Rand
	conns  map[net.Conn]struct{}
	total  Counts
	byPeer map[string]*Counts // by the accepted connection's peer IP
}

// New returns a proxy of the connections ln accepts (Serve starts it).
func New(ln net.Listener, cfg Config) (*Proxy, error) {
	if cfg.Target == "" {
		return nil, errors.New("netem: no target")
	}
	for _, l := range []Link{cfg.Up, cfg.Down} {
		if l.Delay < 0 || l.Rate < 0 || l.Stall < 0 || l.Loss < 0 || l.Loss > 1 || l.Reset < 0 || l.Reset > 1 {
			return nil, fmt.Errorf("netem: invalid link %+v", l)
		}
	}
	if cfg.Window <= 0 {
		cfg.Window = 4 << 20
	}
	if cfg.Dial == nil {
		d := &net.Dialer{Timeout: 10 * time.Second}
		cfg.Dial = d.DialContext
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Proxy{cfg: cfg, ln: ln, log: log, ctx: ctx, cancel: cancel,
		rng:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		conns: map[net.Conn]struct{}{}, byPeer: map[string]*Counts{}}, nil
}

// Addr is the address the proxy listens on.
func (p *Proxy) Addr() net.Addr { return p.ln.Addr() }

// Serve accepts and forwards connections until Close; it returns nil after Close.
func (p *Proxy) Serve() error {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if p.ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("netem: accept: %w", err)
		}
		if !p.track(c) {
			c.Close()
			return nil
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c)
		}()
	}
}

// Close stops accepting, closes every connection and waits for them to end.
func (p *Proxy) Close() error {
	p.cancel()
	err := p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// Counts returns what the proxy forwarded so far, in all.
func (p *Proxy) Counts() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total
}

// CountsByPeer returns what the proxy forwarded so far for each peer IP that connected.
func (p *Proxy) CountsByPeer() map[string]Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]Counts, len(p.byPeer))
	for k, v := range p.byPeer {
		out[k] = *v
	}
	return out
}

// track records an open connection; false once the proxy is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx.Err() != nil {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

// count adds o to the totals and to peer's.
func (p *Proxy) count(peer string, o Counts) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total.add(o)
	pc := p.byPeer[peer]
	if pc == nil {
		pc = &Counts{}
		p.byPeer[peer] = pc
	}
	pc.add(o)
}

// fate draws what happens to a segment on link l: lost (stalled) and/or reset.
func (p *Proxy) fate(l *Link) (lost, reset bool) {
	if l.Loss == 0 && l.Reset == 0 {
		return false, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return l.Loss > 0 && p.rng.Float64() < l.Loss, l.Reset > 0 && p.rng.Float64() < l.Reset
}

// peerIP is the IP of a connection's remote end (its whole address if it has no port).
func peerIP(c net.Conn) string {
	a := c.RemoteAddr().String()
	if h, _, err := net.SplitHostPort(a); err == nil {
		return h
	}
	return a
}

// handle forwards one accepted connection until both directions end or one fails.
func (p *Proxy) handle(in net.Conn) {
	defer p.untrack(in)
	defer in.Close()
	start := time.Now()
	peer := peerIP(in)
	p.count(peer, Counts{Conns: 1})
	if p.cfg.Handshake {
		// The accepted connection's peer may send at once; the target dial waits for the
		// SYN to cross, and the first bytes wait for the rest of the round trip below.
		if !sleepUntil(p.ctx, start.Add(p.cfg.Up.Delay)) {
			return
		}
	}
	out, err := p.cfg.Dial(p.ctx, "tcp", p.cfg.Target)
	if err != nil {
		p.log.Warn("netem: dialing the target", "target", p.cfg.Target, "err", err)
		return
	}
	if !p.track(out) {
		out.Close()
		return
	}
	defer p.untrack(out)
	defer out.Close()

	ctx, cancel := context.WithCancel(p.ctx)
	defer cancel()
	var upFirst time.Time
	if p.cfg.Handshake {
		upFirst = start.Add(2*p.cfg.Up.Delay + p.cfg.Down.Delay)
	}
	var once sync.Once
	// reset ends both sides abruptly: injected (counted) or passing on a side's failure.
	reset := func(injected bool) {
		once.Do(func() {
			if injected {
				p.count(peer, Counts{Resets: 1})
			}
			abort(in)
			abort(out)
			cancel()
		})
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		p.pipe(ctx, in, out, &p.cfg.Up, upFirst, peer, true, reset)
	}()
	go func() {
		defer wg.Done()
		p.pipe(ctx, out, in, &p.cfg.Down, time.Time{}, peer, false, reset)
	}()
	wg.Wait()
}

// abort closes c at once, with a TCP reset where it can.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// chunk is bytes read from one side, due out on the other at a time (eof: the read side ended;
// reset: the connection is reset when the chunk is due).
type chunk struct {
	b     []byte
	due   time.Time
	eof   bool
	reset bool
	stall int64
}

// pipe copies src to dst through link l: a reader stamps every chunk with the time it is due,
// a writer writes it then. The first bytes are due no earlier than first.
func (p *Proxy) pipe(ctx context.Context, src, dst net.Conn, l *Link, first time.Time, peer string, up bool, reset func(injected bool)) {
	maxChunk := 32 << 10
	if l.Rate > 0 {
		// Pace in small pieces: at most 5 ms of the link's time per chunk.
		maxChunk = max(Segment, min(maxChunk, int(l.Rate/200)))
	}
	queue := make(chan chunk, max(1, p.cfg.Window/maxChunk))
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.write(ctx, dst, queue, peer, up, reset)
	}()
	last := first // when the previous chunk's last byte is out
	defer close(queue)
	for {
		buf := make([]byte, maxChunk)
		n, err := src.Read(buf)
		now := time.Now()
		if n > 0 {
			c := chunk{b: buf[:n]}
			due := now.Add(l.Delay)
			if l.Rate > 0 {
				due = maxTime(due, last).Add(time.Duration(int64(n) * int64(time.Second) / l.Rate))
			} else {
				due = maxTime(due, last)
			}
			for off := 0; off < n; off += Segment {
				lost, rst := p.fate(l)
				if lost {
					c.stall++
					due = due.Add(stallOf(l))
				}
				if rst {
					c.reset = true
					c.b = c.b[:off]
					break
				}
			}
			c.due, last = due, due
			select {
			case queue <- c:
			case <-ctx.Done():
				<-done
				return
			}
			if c.reset {
				<-done
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				select {
				case queue <- chunk{eof: true, due: maxTime(now.Add(l.Delay), last)}:
				case <-ctx.Done():
				}
			} else {
				reset(false) // the peer reset or the proxy is closing: pass it on
			}
			<-done
			return
		}
	}
}

// write writes the chunks of queue to dst when they are due.
func (p *Proxy) write(ctx context.Context, dst net.Conn, queue <-chan chunk, peer string, up bool, reset func(injected bool)) {
	for {
		var c chunk
		select {
		case c = <-queue:
		case <-ctx.Done():
			return
		}
		if !sleepUntil(ctx, c.due) {
			return
		}
		if len(c.b) > 0 {
			n, err := dst.Write(c.b)
			o := Counts{Stalls: c.stall}
			if up {
				o.Up = int64(n)
			} else {
				o.Down = int64(n)
			}
			p.count(peer, o)
			if err != nil {
				reset(false)
				return
			}
		}
		switch {
		case c.reset:
			reset(true)
			return
		case c.eof:
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			} else {
				dst.Close()
			}
			return
		}
	}
}

// stallOf is how long a loss stalls link l.
func stallOf(l *Link) time.Duration {
	if l.Stall > 0 {
		return l.Stall
	}
	return 200 * time.Millisecond
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// sleepUntil waits until t; false if ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}
