package rotationtest

import (
	"errors"
	"fmt"
	"sort"

	"github.com/rotationkit/rotation/localsm"

	"github.com/rotationkit/rotation/internal/redact"
)

// needle is a sensitive string and a description of it that does not
// reveal it.
type needle struct {
	text, what string
	partial    bool // a credential, whose runs count (see redact.Needle)
}

// leaks checks everything the rotation function could have written during
// the rule (the logger it was given, the errors it returned, the standard
// log package, slog.Default() and, with FreshProcess, the child
// processes' output) for secret values and RotationTokens, in every form
// redact.Forms lists and as runs of a credential (a masked value); see
// package redact for what counts as a credential.
func (e *env) leaks() error {
	var needles []needle
	for _, s := range e.fake.Secrets() {
		for _, v := range s.Versions {
			needles = append(needles, sensitiveParts(s.Name, v)...)
		}
	}
	e.mu.Lock()
	needles = append(needles, e.tokens...)
	type text struct{ where, text string }
	texts := []text{{"the handler's log", e.logs.String()}}
	for _, t := range e.errs {
		texts = append(texts, text{"an error the handler returned", t})
	}
	for _, t := range e.childOutput {
		texts = append(texts, text{"the output of a child process that ran the handler (FreshProcess)", t})
	}
	e.mu.Unlock()
	if e.global != nil {
		texts = append(texts, text{"the standard log package's or slog.Default()'s output (the handler must log only to the logger it is given)", e.global.String()})
	}
	// One needle per distinct string, described the first way it was met.
	var uniq []needle
	var rn []redact.Needle
	seen := map[string]bool{}
	for _, n := range needles {
		if seen[n.text] {
			continue
		}
		seen[n.text] = true
		uniq = append(uniq, n)
		rn = append(rn, redact.Needle{Value: n.text, Partial: n.partial})
	}
	m := redact.Compile(rn)
	reported := map[int]bool{}
	var errs []error
	for _, t := range texts {
		for _, i := range m.Find(t.text) {
			if !reported[i] {
				reported[i] = true
				errs = append(errs, fmt.Errorf("%s contains %s", t.where, uniq[i].what))
			}
		}
	}
	return errors.Join(errs...)
}

// sensitiveParts returns the strings of a version that must never be
// logged: the whole value, the RotationToken that wrote it, and every
// credential redact.Credentials finds in it.
func sensitiveParts(secret string, v localsm.Version) []needle {
	if v.Placeholder() {
		return nil
	}
	of := fmt.Sprintf("version %s of secret %s", short(v.ID), secret)
	var out []needle
	if v.RotationToken != "" {
		out = append(out, needle{v.RotationToken, "the RotationToken that wrote " + of, true})
	}
	creds := redact.Credentials(toSecretBytes(v))
	sort.SliceStable(creds, func(i, j int) bool { return creds[i].Field < creds[j].Field })
	for _, c := range creds {
		what := "the value of " + of
		if c.Field != "" {
			what = fmt.Sprintf("field %q of %s", c.Field, of)
		}
		out = append(out, needle{c.Value, what, c.Partial})
	}
	return out
}
