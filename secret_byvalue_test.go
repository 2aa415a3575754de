package rotation_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/rotationkit/rotation"
)

func TestSecretByValueDoesNotLeak(t *testing.T) {
	const pw = "hunter2-SECRET-value"
	s := rotation.NewString(`{"password":"` + pw + `"}`)
	type holder struct{ S rotation.Secret }
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "v", *s, "h", holder{*s})
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", *s, "h", holder{*s})
	for _, got := range []string{fmt.Sprintf("%v %+v %#v %v", *s, *s, holder{*s}, holder{*s}), buf.String()} {
		if strings.Contains(got, pw) || strings.Contains(got, "hunter2") {
			t.Errorf("a Secret held by value leaked its value: %s", got)
		}
	}
}
