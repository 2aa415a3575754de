package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress shows "what: n/total" on standard error, redrawn at most ten
// times a second, when standard error is a terminal (or --progress
// always). Piped output gets none.
type progress struct {
	w    io.Writer
	what string

	mu    sync.Mutex
	last  time.Time
	shown bool
}

func (a *app) newProgress(c *common, what string) *progress {
	on := c.progress == "always" || c.progress == "auto" && a.tty
	if !on {
		return &progress{}
	}
	return &progress{w: a.stderr, what: what}
}

func (p *progress) update(done, total int) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond || done == total {
		p.last = now
		p.shown = true
		fmt.Fprintf(p.w, "\r%s: %d/%d secrets", p.what, done, total)
	}
}

func (p *progress) done() {
	if p.w == nil || !p.shown {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.w, "\r\033[K")
}
