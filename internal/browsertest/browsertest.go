// Package browsertest drives headless Chromium from Go tests (through the DevTools protocol,
// with github.com/chromedp/chromedp): load a page, wait for what its scripts render, read the
// DOM, collect console messages and uncaught exceptions, save a screenshot.
//
// Start skips the test, with a message naming chromium, when no Chromium is installed
// (scripts/setup installs Debian's chromium); a Chromium that is installed but does not start
// fails the test. The browser runs with --headless --no-sandbox --disable-gpu --no-first-run
// --disable-background-networking --disable-component-update --disable-sync and a user data
// directory of its own under the test's temporary directory, and is stopped when the test
// ends. Host names under .localhost resolve to the loopback address in Chromium itself, so a
// test can load http://<anything>.localhost:PORT/ from a server on 127.0.0.1.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// EnvChromium names a Chromium executable to use instead of the one found on PATH.
const EnvChromium = "FLOE_CHROMIUM"

// EnvRequire, set to 1, makes Start fail instead of skip when no Chromium is installed
// (.ci/run sets it for the site test, which must run there).
const EnvRequire = "FLOE_REQUIRE_CHROMIUM"

// Timeout bounds each step of a Page (a generous liveness bound, not a performance check).
const Timeout = 60 * time.Second

// Find returns the Chromium executable: $FLOE_CHROMIUM, else the first of chromium,
// chromium-browser, google-chrome and google-chrome-stable on PATH.
func Find() (string, error) {
	if p := os.Getenv(EnvChromium); p != "" {
		return exec.LookPath(p)
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium, chromium-browser or google-chrome on PATH")
}

// Browser is one headless Chromium process.
type Browser struct {
	ctx    context.Context
	cancel context.CancelFunc
	path   string
}

// Start launches headless Chromium for t and stops it when t ends. Without Chromium it skips
// t, saying so loudly, or fails it when $FLOE_REQUIRE_CHROMIUM is 1.
func Start(t testing.TB) *Browser {
	t.Helper()
	path, err := Find()
	if err != nil && os.Getenv(EnvRequire) == "1" {
		t.Fatalf("browsertest: chromium is not installed (%v) and %s=1 requires it: install Debian's chromium (scripts/setup does) or set %s", err, EnvRequire, EnvChromium)
	}
	if err != nil {
		t.Logf("*** browsertest: chromium is not installed (%v): this browser test does not run. Install Debian's chromium (scripts/setup does) or set %s. ***", err, EnvChromium)
		t.Skip("SKIPPED: chromium not installed")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	b := &Browser{ctx: ctx, path: path, cancel: func() { cancel(); acancel() }}
	t.Cleanup(b.cancel)
	// The first run starts the browser; it must not carry a timeout (that would stop the
	// browser when it fires), so a watchdog bounds it instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("browsertest: starting %s: %v", path, err)
		}
	case <-time.After(Timeout):
		b.cancel()
		t.Fatalf("browsertest: %s did not start within %v", path, Timeout)
	}
	return b
}

// Path returns the Chromium executable in use.
func (b *Browser) Path() string { return b.path }

// Page is one tab of a Browser.
type Page struct {
	t      testing.TB
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// NewPage opens a tab, closed when t ends. It records the tab's console messages and uncaught
// exceptions (see Console and Exceptions).
func (b *Browser) NewPage(t testing.TB) *Page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	p := &Page{t: t, ctx: ctx, cancel: cancel}
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browsertest: opening a tab: %v", err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, m)
			p.mu.Unlock()
		}
	}()
	return p
}

func (p *Page) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(p.ctx, Timeout)
}

// Navigate loads url, waits for the load event and returns the document's HTTP status.
func (p *Page) Navigate(url string) (int, error) {
	ctx, cancel := p.step()
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		return 0, fmt.Errorf("browsertest: loading %s: %w", url, err)
	}
	return int(resp.Status), nil
}

// WaitText waits until the text content of the first element matching the CSS selector
// contains want, and returns that text.
func (p *Page) WaitText(css, want string) (string, error) {
	ctx, cancel := p.step()
	defer cancel()
	var last string
	for {
		text, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(css)))
		if err == nil {
			last = text
			if strings.Contains(text, want) {
				return text, nil
			}
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("browsertest: %s never held %q (last: %q): %w", css, want, last, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Text returns the text content of the first element matching the CSS selector.
func (p *Page) Text(css string) (string, error) {
	ctx, cancel := p.step()
	defer cancel()
	return chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(css)))
}

// Eval evaluates a JavaScript expression in the page (awaiting it if it is a promise) and
// returns its result, decoded from JSON into T.
func Eval[T any](p *Page, expr string) (T, error) {
	ctx, cancel := p.step()
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// Screenshot saves a PNG of the whole page at path.
func (p *Page) Screenshot(path string) error {
	ctx, cancel := p.step()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return fmt.Errorf("browsertest: screenshot: %w", err)
	}
	return os.WriteFile(path, png, 0o644)
}

// Console returns the console messages and exceptions so far, as "type: text".
func (p *Page) Console() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, len(p.console))
	for i, m := range p.console {
		out[i] = m.String()
	}
	return out
}

// Exceptions returns the uncaught exceptions and the page's console.error calls so far (not the
// browser's own log entries, such as a missing favicon).
func (p *Page) Exceptions() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, m := range p.console {
		if m.IsException() || (m.Type == chromedp.ConsoleError && m.Source == "") {
			out = append(out, m.String())
		}
	}
	return out
}
