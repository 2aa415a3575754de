package dbsecret

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Environment variables every database example reads the same way (see
// SettingsFromEnv).
const (
	EnvMode           = "ROTATION_MODE"            // single | alternating | alternating-precreated
	EnvUsers          = "ROTATION_USERS"           // alternating-precreated: "user1,user2" or a JSON array
	EnvSuffix         = "ROTATION_CLONE_SUFFIX"    // alternating: default "_clone"
	EnvCABundle       = "ROTATION_CA_BUNDLE"       // comma-separated PEM files replacing the default CA bundles
	EnvConnectTimeout = "ROTATION_CONNECT_TIMEOUT" // Go duration, default 5s
)

// Mode is how a database example rotates: the value of ROTATION_MODE.
type Mode string

// The rotation modes.
const (
	ModeSingle      Mode = "single"                 // the user's own password (or an admin's, with masterarn)
	ModeAlternating Mode = "alternating"            // the user and a clone made by the admin
	ModePrecreated  Mode = "alternating-precreated" // two users that exist already
)

// Settings is the configuration shared by the database examples, read
// once at cold start by SettingsFromEnv.
type Settings struct {
	Mode           Mode
	Users          [2]string // ModePrecreated: the two users, trimmed
	Suffix         string    // ModeAlternating: the clone suffix ("" for the strategy's default)
	CAFiles        []string  // ROTATION_CA_BUNDLE
	ConnectTimeout time.Duration
	AllowedUsers   []string // ModeSingle with masterarn: the users the admin may change
}

// SettingsOptions adapt SettingsFromEnv to an engine's user names.
type SettingsOptions struct {
	// SameUser reports whether two user names name one user on the
	// engine (default: equal strings). SameUserHint, if set, is added to
	// the error for two names that are the same, e.g. "(SQL Server
	// compares names without case by default)".
	SameUser     func(a, b string) bool
	SameUserHint string
	// CheckUser checks a user name from ROTATION_USERS or ALLOWED_USERS;
	// what names its origin, for the error.
	CheckUser func(what, name string) error
}

// SettingsFromEnv reads ROTATION_MODE, ROTATION_USERS,
// ROTATION_CLONE_SUFFIX, ROTATION_CA_BUNDLE, ROTATION_CONNECT_TIMEOUT and
// ALLOWED_USERS, and refuses combinations that cannot be meant (a
// variable for a mode that is not the one chosen). Errors name the
// variable, never a secret.
func SettingsFromEnv(lookup func(string) (string, bool), o SettingsOptions) (Settings, error) {
	get := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	same := o.SameUser
	if same == nil {
		same = func(a, b string) bool { return a == b }
	}
	check := o.CheckUser
	if check == nil {
		check = func(string, string) error { return nil }
	}
	s := Settings{ConnectTimeout: 5 * time.Second, Suffix: get(EnvSuffix)}
	switch m := Mode(strings.ToLower(get(EnvMode))); m {
	case ModeSingle, ModeAlternating, ModePrecreated:
		s.Mode = m
	case "":
		return s, fmt.Errorf("%s is not set; want %s, %s or %s", EnvMode, ModeSingle, ModeAlternating, ModePrecreated)
	default:
		return s, fmt.Errorf("%s is not one of %s, %s, %s", EnvMode, ModeSingle, ModeAlternating, ModePrecreated)
	}
	users := get(EnvUsers)
	switch {
	case s.Mode == ModePrecreated && users == "":
		return s, fmt.Errorf("%s=%s needs %s, the two pre-created users (\"user1,user2\" or a JSON array)", EnvMode, ModePrecreated, EnvUsers)
	case s.Mode != ModePrecreated && users != "":
		return s, fmt.Errorf("%s is set but %s is not %s", EnvUsers, EnvMode, ModePrecreated)
	case users != "":
		var list []string
		if strings.HasPrefix(users, "[") {
			if err := json.Unmarshal([]byte(users), &list); err != nil {
				return s, fmt.Errorf("%s is not a JSON array of strings", EnvUsers)
			}
		} else {
			list = strings.Split(users, ",")
		}
		if len(list) != 2 {
			return s, fmt.Errorf("%s must name two different users", EnvUsers)
		}
		// Compared after trimming: "app, app" names one user twice.
		a, b := strings.TrimSpace(list[0]), strings.TrimSpace(list[1])
		if a == "" || b == "" || same(a, b) {
			msg := fmt.Sprintf("%s must name two different users", EnvUsers)
			if o.SameUserHint != "" {
				msg += " " + o.SameUserHint
			}
			return s, fmt.Errorf("%s", msg)
		}
		for _, u := range []string{a, b} {
			if err := check("a user of "+EnvUsers, u); err != nil {
				return s, err
			}
		}
		s.Users = [2]string{a, b}
	}
	allowed, err := AllowedUsersFromEnv(lookup)
	if err != nil {
		return s, err
	}
	if len(allowed) > 0 && s.Mode != ModeSingle {
		return s, fmt.Errorf("%s is set but %s is not %s (the alternating modes change only the secret's user and its alternate)", EnvAllowedUsers, EnvMode, ModeSingle)
	}
	for _, u := range allowed {
		if err := check("an entry of "+EnvAllowedUsers, u); err != nil {
			return s, err
		}
	}
	s.AllowedUsers = allowed
	if s.Suffix != "" && s.Mode != ModeAlternating {
		return s, fmt.Errorf("%s is set but %s is not %s", EnvSuffix, EnvMode, ModeAlternating)
	}
	if s.CAFiles, err = CAFilesFromEnv(lookup, EnvCABundle, ","); err != nil {
		return s, err
	}
	if v := get(EnvConnectTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return s, fmt.Errorf("%s must be a positive Go duration such as 5s", EnvConnectTimeout)
		}
		s.ConnectTimeout = d
	}
	return s, nil
}
