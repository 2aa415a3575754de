package main

import (
	"context"
	"strings"
	"testing"
)

func TestQuickstart(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{"rotation 3 of 3", "finishSecret  ok", "0 failures", "ok: 3 rotations, zero downtime"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "api_key") {
		t.Errorf("output mentions the secret's key field; it must print labels only:\n%s", got)
	}
}
