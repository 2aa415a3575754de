package rotation

import "testing"

func TestVersionsHolder(t *testing.T) {
	v := versions{
		"b": {"AWSPREVIOUS"},
		"c": {"AWSCURRENT", "X"},
		"a": {"Y"},
		"d": {"AWSPENDING"},
	}
	if id, ok := v.Holder(StageCurrent); !ok || id != "c" {
		t.Errorf("Holder(AWSCURRENT) = %q, %v; want c", id, ok)
	}
	if id, ok := v.Holder("NONE"); ok || id != "" {
		t.Errorf("Holder(NONE) = %q, %v; want none", id, ok)
	}
	// An inconsistent map gives an answer that does not depend on map order.
	bad := versions{"z": {"AWSCURRENT"}, "m": {"AWSCURRENT"}, "q": {"AWSCURRENT"}}
	for range 50 {
		if id, _ := bad.Holder(StageCurrent); id != "m" {
			t.Fatalf("Holder on an inconsistent map = %q, want the smallest id m", id)
		}
	}
	if !v.Has("c", StageCurrent) || v.Has("a", StageCurrent) || v.Has("zz", StageCurrent) {
		t.Errorf("Has is wrong")
	}
	if !v.Exists("a") || v.Exists("zz") {
		t.Errorf("Exists is wrong")
	}
}
