package rotationtest

import (
	"io"
	"log"
	"log/slog"
	"sync"
)

// The leak check also reads what the rotation function writes with the
// standard log package or slog.Default() instead of the logger it is
// given. While at least one rule runs (in this process), both are
// redirected to a capture that copies every line to each running rule's
// buffer and on to the standard log package's previous output, so nothing
// disappears from the test's output; when the last rule ends, the previous
// output, flags and default logger are restored. Concurrent Runs share
// the capture: each sees every line written while it runs, and reports
// those holding its own secrets.

// capture is the process-wide state of the redirection.
var capture struct {
	install sync.Mutex // serialises installing and restoring
	users   int        // rules running; guarded by install

	prevOut    io.Writer // guarded by install
	prevFlags  int
	prevPrefix string
	prevSlog   *slog.Logger

	mu    sync.Mutex // guards sinks and tee; never held while calling log or slog
	sinks map[*syncBuffer]bool
	tee   io.Writer
}

// captureWriter is where log and slog.Default() write during a rule.
type captureWriter struct{}

func (captureWriter) Write(p []byte) (int, error) {
	capture.mu.Lock()
	sinks := make([]*syncBuffer, 0, len(capture.sinks))
	for s := range capture.sinks {
		sinks = append(sinks, s)
	}
	tee := capture.tee
	capture.mu.Unlock()
	for _, s := range sinks {
		_, _ = s.Write(p)
	}
	if tee != nil {
		_, _ = tee.Write(p)
	}
	return len(p), nil
}

// startCapture makes the standard log package's and slog.Default()'s
// output reach e.global until stopCapture.
func (e *env) startCapture() {
	e.global = &syncBuffer{}
	capture.install.Lock()
	defer capture.install.Unlock()
	capture.mu.Lock()
	if capture.sinks == nil {
		capture.sinks = map[*syncBuffer]bool{}
	}
	capture.sinks[e.global] = true
	capture.mu.Unlock()
	capture.users++
	if capture.users > 1 {
		return
	}
	capture.prevOut, capture.prevFlags, capture.prevPrefix = log.Writer(), log.Flags(), log.Prefix()
	capture.prevSlog = slog.Default()
	capture.mu.Lock()
	capture.tee = capture.prevOut
	capture.mu.Unlock()
	// slog.SetDefault routes the log package through the new handler too
	// (flags cleared); the prefix is kept, as the handler writes it.
	slog.SetDefault(slog.New(slog.NewTextHandler(captureWriter{}, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

// stopCapture ends e's share of the capture, restoring log and slog when
// it was the last.
func (e *env) stopCapture() {
	if e.global == nil {
		return
	}
	capture.install.Lock()
	defer capture.install.Unlock()
	capture.mu.Lock()
	if !capture.sinks[e.global] {
		capture.mu.Unlock()
		return
	}
	delete(capture.sinks, e.global)
	capture.mu.Unlock()
	capture.users--
	if capture.users > 0 {
		return
	}
	slog.SetDefault(capture.prevSlog)
	log.SetOutput(capture.prevOut)
	log.SetFlags(capture.prevFlags)
	log.SetPrefix(capture.prevPrefix)
	capture.mu.Lock()
	capture.tee = nil
	capture.mu.Unlock()
}
