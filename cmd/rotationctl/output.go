package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rotationkit/rotation"
)

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		if c == "" {
			cells[i] = "-"
		}
		// A tab or newline in a name would break the columns.
		cells[i] = strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return ' '
			}
			return r
		}, cells[i])
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// fmtTime formats t for a table, in UTC; "" when zero.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}

func timeOf(p *time.Time) time.Time {
	if p == nil {
		return time.Time{}
	}
	return p.UTC()
}

// labels is a secret's staging labels by version, the form Secrets
// Manager returns.
type labels map[string][]string

// short shows the AWS labels as "AWSCURRENT=1a2b3c4d AWSPENDING=...",
// version ids cut to 8 characters.
func (l labels) short() string {
	var parts []string
	for _, stage := range []rotation.Stage{rotation.StageCurrent, rotation.StagePending, rotation.StagePrevious} {
		if id, ok := l.holder(stage); ok {
			if len(id) > 8 {
				id = id[:8]
			}
			parts = append(parts, string(stage)+"="+id)
		}
	}
	return strings.Join(parts, " ")
}

// rows lists every (version, label) pair, sorted, for before/after tables.
func (l labels) rows() [][2]string {
	var out [][2]string
	for id, stages := range l {
		for _, s := range stages {
			out = append(out, [2]string{s, id})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i][0] != out[j][0] {
			return out[i][0] < out[j][0]
		}
		return out[i][1] < out[j][1]
	})
	return out
}

func labelsOf(m map[string][]string) labels { return labels(m) }

// holder returns the version carrying stage.
func (l labels) holder(stage rotation.Stage) (string, bool) {
	for id, stages := range l {
		if slices.Contains(stages, string(stage)) {
			return id, true
		}
	}
	return "", false
}

// has reports whether version id carries stage.
func (l labels) has(id string, stage rotation.Stage) bool {
	return slices.Contains(l[id], string(stage))
}
