package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/floelabs/floe/client"
)

// storeReporter shows a store's phases and its upload progress on standard error, so that a
// store never sits silent while it encodes: on a terminal as one line redrawn in place (and
// cleared at the end, before the summary), else as plain lines, one a phase and one each
// quarter of the upload (or every statusEvery on a long one). Upload progress is in blob
// bytes, the unencoded size the summary prints: the SDK's sliver bytes scaled to the blob.
type storeReporter struct {
	w     io.Writer
	tty   bool
	label string
	// size is the blob's unencoded size; -1 when the caller does not know it (a quilt is
	// built inside the SDK): progress is then shown in percent only.
	size int64
	now  func() time.Time

	phase    client.StorePhase
	phaseAt  time.Time
	lastPct  int
	lastLine time.Time
	drawn    bool
}

// statusEvery is how often, at most, a long upload prints a line when not on a terminal
// between its quarters.
const statusEvery = 10 * time.Second

func newStoreReporter(w io.Writer, tty bool, label string, size int64) *storeReporter {
	return &storeReporter{w: w, tty: tty, label: label, size: size, now: time.Now, lastPct: -1}
}

// options sets the SDK's callbacks in opts.
func (r *storeReporter) options(opts client.StoreOptions) client.StoreOptions {
	opts.Phase, opts.Progress = r.onPhase, r.onProgress
	return opts
}

func (r *storeReporter) bytes(n int64) string {
	return humanBytes(uint64(n))
}

func (r *storeReporter) onPhase(p client.StorePhase) {
	now := r.now()
	prev, took := r.phase, now.Sub(r.phaseAt)
	r.phase, r.phaseAt, r.lastPct = p, now, -1
	switch p {
	case client.PhaseEncoding:
		if r.size >= 0 {
			r.line(fmt.Sprintf("encoding %s", r.bytes(r.size)))
		} else {
			r.line("encoding")
		}
	case client.PhaseUploading:
		msg := "uploading"
		if prev == client.PhaseEncoding && !r.tty {
			msg = fmt.Sprintf("encoded in %s; uploading", took.Round(time.Millisecond))
		}
		if r.size >= 0 {
			msg += " " + r.bytes(r.size)
		}
		r.line(msg)
	case client.PhaseCertifying:
		r.line("certifying")
	default:
		r.line(string(p))
	}
}

func (r *storeReporter) onProgress(done, total int64) {
	if total <= 0 {
		return
	}
	pct := int(done * 100 / total)
	if pct == r.lastPct {
		return
	}
	if !r.tty {
		// Plain lines: each quarter, and between them at most every statusEvery.
		quarter := pct/25 > max(r.lastPct, 0)/25 || (pct == 100 && r.lastPct < 100)
		if r.lastPct >= 0 && !quarter && r.now().Sub(r.lastLine) < statusEvery {
			return
		}
		if r.lastPct < 0 && pct == 0 {
			r.lastPct = 0 // the uploading line said it started
			return
		}
	}
	r.lastPct = pct
	if r.size < 0 {
		r.line(fmt.Sprintf("uploaded %3d%%", pct))
		return
	}
	blobDone := r.size
	if done < total {
		blobDone = int64(float64(r.size) * float64(done) / float64(total))
	}
	if r.tty {
		const width = 24
		fill := pct * width / 100
		r.line(fmt.Sprintf("uploading [%s%s] %3d%% %s/%s", strings.Repeat("#", fill), strings.Repeat(" ", width-fill), pct,
			r.bytes(blobDone), r.bytes(r.size)))
		return
	}
	r.line(fmt.Sprintf("uploaded %s/%s (%d%%)", r.bytes(blobDone), r.bytes(r.size), pct))
}

// line shows msg: redrawn in place on a terminal, a line of its own otherwise.
func (r *storeReporter) line(msg string) {
	r.lastLine = r.now()
	if r.tty {
		fmt.Fprintf(r.w, "\r\x1b[K%s: %s", r.label, msg)
		r.drawn = true
		return
	}
	fmt.Fprintf(r.w, "%s: %s\n", r.label, msg)
}

// finish clears the terminal line, so that the summary (or the error) starts on a clean line.
func (r *storeReporter) finish() {
	if r.tty && r.drawn {
		fmt.Fprint(r.w, "\r\x1b[K")
		r.drawn = false
	}
}
