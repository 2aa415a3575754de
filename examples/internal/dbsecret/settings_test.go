package dbsecret_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rotationkit/rotation/examples/internal/dbsecret"
)

func lookupOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestSettingsFromEnv(t *testing.T) {
	got, err := dbsecret.SettingsFromEnv(lookupOf(map[string]string{
		"ROTATION_MODE": "Alternating-Precreated", "ROTATION_USERS": `[" app_a ", "app_b"]`, "ROTATION_CONNECT_TIMEOUT": "2s",
	}), dbsecret.SettingsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := dbsecret.Settings{Mode: dbsecret.ModePrecreated, Users: [2]string{"app_a", "app_b"}, ConnectTimeout: 2 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
}

func TestSettingsFromEnvRefuses(t *testing.T) {
	errBadName := errors.New("bad name")
	fold := dbsecret.SettingsOptions{
		SameUser:     strings.EqualFold,
		SameUserHint: "(names compare without case)",
		CheckUser: func(what, name string) error {
			if strings.Contains(name, "!") {
				return errBadName
			}
			return nil
		},
	}
	for _, tt := range []struct {
		env  map[string]string
		opts dbsecret.SettingsOptions
		want string
	}{
		{map[string]string{}, dbsecret.SettingsOptions{}, "ROTATION_MODE is not set"},
		{map[string]string{"ROTATION_MODE": "dual"}, dbsecret.SettingsOptions{}, "ROTATION_MODE is not one of"},
		{map[string]string{"ROTATION_MODE": "alternating-precreated"}, dbsecret.SettingsOptions{}, "needs ROTATION_USERS"},
		{map[string]string{"ROTATION_MODE": "single", "ROTATION_USERS": "a,b"}, dbsecret.SettingsOptions{}, "ROTATION_USERS is set but ROTATION_MODE is not alternating-precreated"},
		{map[string]string{"ROTATION_MODE": "alternating-precreated", "ROTATION_USERS": "app, app"}, dbsecret.SettingsOptions{}, "must name two different users"},
		{map[string]string{"ROTATION_MODE": "alternating-precreated", "ROTATION_USERS": "App,app"}, fold, "must name two different users (names compare without case)"},
		{map[string]string{"ROTATION_MODE": "alternating-precreated", "ROTATION_USERS": "a!,b"}, fold, "bad name"},
		{map[string]string{"ROTATION_MODE": "alternating", "ALLOWED_USERS": "a"}, dbsecret.SettingsOptions{}, "ALLOWED_USERS is set but ROTATION_MODE is not single"},
		{map[string]string{"ROTATION_MODE": "single", "ALLOWED_USERS": "ok,x!"}, fold, "bad name"},
		{map[string]string{"ROTATION_MODE": "single", "ROTATION_CLONE_SUFFIX": "_b"}, dbsecret.SettingsOptions{}, "ROTATION_CLONE_SUFFIX is set but ROTATION_MODE is not alternating"},
		{map[string]string{"ROTATION_MODE": "single", "ROTATION_CONNECT_TIMEOUT": "-1s"}, dbsecret.SettingsOptions{}, "ROTATION_CONNECT_TIMEOUT must be a positive"},
	} {
		_, err := dbsecret.SettingsFromEnv(lookupOf(tt.env), tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("env %v: error %v, want one containing %q", tt.env, err, tt.want)
		}
	}
}
