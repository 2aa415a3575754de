package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbrotator"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
	"github.com/rotationkit/rotation/localsm"
	"github.com/rotationkit/rotation/rotationtest"
	"github.com/rotationkit/rotation/strategy"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestConfigFromEnv(t *testing.T) {
	c, err := configFromEnv(env(map[string]string{"ROTATION_MODE": "alternating-precreated", "ALTERNATE_USERS": " app_a , app_b ", "PASSWORD_LENGTH": "40", "CONNECT_TIMEOUT": "3s"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.mode != ModeAlternatingPrecreated || c.users != [2]string{"app_a", "app_b"} || c.policy.Length != 40 || c.connectTimeout.Seconds() != 3 {
		t.Errorf("config = %+v", c)
	}
	if c.policy.ExcludeCharacters != dbsecret.PostgreSQLExcludedCharacters {
		t.Errorf("default exclusions = %q", c.policy.ExcludeCharacters)
	}
	c, err = configFromEnv(env(map[string]string{"ROTATION_MODE": "Single"}))
	if err != nil || c.mode != ModeSingle {
		t.Errorf("single: %+v, %v", c, err)
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "ROTATION_MODE is not set"},
		{map[string]string{"ROTATION_MODE": "double"}, "ROTATION_MODE must be"},
		{map[string]string{"ROTATION_MODE": "alternating-precreated"}, "ALTERNATE_USERS"},
		{map[string]string{"ROTATION_MODE": "alternating-precreated", "ALTERNATE_USERS": "a,a"}, "ALTERNATE_USERS"},
		{map[string]string{"ROTATION_MODE": "alternating-precreated", "ALTERNATE_USERS": "a,b,c"}, "ALTERNATE_USERS"},
		{map[string]string{"ROTATION_MODE": "single", "ALTERNATE_USERS": "a,b"}, "ALTERNATE_USERS"},
		{map[string]string{"ROTATION_MODE": "single", "CLONE_SUFFIX": "_b"}, "CLONE_SUFFIX"},
		{map[string]string{"ROTATION_MODE": "single", "CA_BUNDLE": "/nonexistent/ca.pem"}, "CA_BUNDLE"},
		{map[string]string{"ROTATION_MODE": "single", "CONNECT_TIMEOUT": "soon"}, "CONNECT_TIMEOUT"},
		{map[string]string{"ROTATION_MODE": "single", "PASSWORD_LENGTH": "0"}, "PASSWORD_LENGTH"},
		{map[string]string{"ROTATION_MODE": "alternating", "ALLOWED_USERS": "app"}, "ALLOWED_USERS"},
		{map[string]string{"ROTATION_MODE": "single", "ALLOWED_USERS": "app,,b"}, "ALLOWED_USERS"},
		{map[string]string{"ROTATION_MODE": "single", "ALLOWED_USERS": strings.Repeat("x", 64)}, "ALLOWED_USERS"},
		{map[string]string{"ROTATION_MODE": "single", "DB_ADMIN_ENDPOINT": "db.example.com"}, "DB_ADMIN_ENDPOINT"},
		{map[string]string{"ROTATION_MODE": "alternating", "DB_ADMIN_ENDPOINT": "db.example.com:99999"}, "DB_ADMIN_ENDPOINT"},
		{map[string]string{"ROTATION_MODE": "alternating", "DB_ADMIN_ALLOW_PLAINTEXT": "yes please"}, "DB_ADMIN_ALLOW_PLAINTEXT"},
		{map[string]string{"ROTATION_MODE": "single", "DB_ALLOW_MD5": "maybe"}, "DB_ALLOW_MD5"},
	} {
		if _, err := configFromEnv(env(tc.env)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("configFromEnv(%v) = %v, want an error naming %s", tc.env, err, tc.want)
		}
	}
}

type noSecrets struct{}

func (noSecrets) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return nil, errors.New("no secrets here")
}

// TestCreateValidatesUpFront checks that createSecret refuses a malformed
// AWSCURRENT value with a message naming the field, and never quotes a
// value.
func TestCreateValidatesUpFront(t *testing.T) {
	for _, mode := range []Mode{ModeSingle, ModeAlternating} {
		r, err := newRotator(config{mode: mode, policy: dbsecret.PostgreSQL.DefaultPolicy()}, noSecrets{})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ secret, field string }{
			{`{"engine":"mysql","host":"h","username":"u","password":"secret-pw-1"}`, `"engine"`},
			{`{"engine":"postgres","username":"u","password":"secret-pw-1"}`, `"host"`},
			{`{"engine":"postgres","host":"h","username":"u","password":"secret-pw-1","port":"x"}`, `"port"`},
			{`{"engine":"postgres","host":"h.cluster-ro-x.rds.amazonaws.com","username":"u","password":"secret-pw-1"}`, `"host"`},
			{`{"engine":"postgres","host":"h","username":"u","password":"secret-pw-1","ssl":"maybe"}`, `"ssl"`},
		} {
			_, err := r.Create(context.Background(), rotationtest.NewCreateRequest("arn", "v2", rotation.NewString(tc.secret), nil))
			if err == nil || !errors.Is(err, rotation.ErrInvalidSecret) || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("%s: Create(%s) = %v, want ErrInvalidSecret naming %s", mode, tc.secret, err, tc.field)
			}
			if err != nil && strings.Contains(err.Error(), "secret-pw-1") {
				t.Errorf("error quotes the password: %v", err)
			}
		}
	}
	// Alternating: the admin secret is required (named by masterarn).
	r, _ := newRotator(config{mode: ModeAlternating}, noSecrets{})
	_, err := r.Create(context.Background(), rotationtest.NewCreateRequest("arn", "v2", rotation.NewString(`{"engine":"postgres","host":"h","username":"u","password":"p"}`), nil))
	if err == nil || !strings.Contains(err.Error(), `"masterarn"`) {
		t.Errorf("alternating without masterarn: %v", err)
	}
	var _ strategy.SecretReader = noSecrets{}
}

// TestConfigAdminVariables: ALLOWED_USERS, DB_ADMIN_ENDPOINT,
// DB_ADMIN_ALLOW_PLAINTEXT and DB_ALLOW_MD5 reach the service.
func TestConfigAdminVariables(t *testing.T) {
	c, err := configFromEnv(env(map[string]string{
		"ROTATION_MODE": "single", "ALLOWED_USERS": " app , report ", "DB_ADMIN_ENDPOINT": "db.example.com:6543",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.allowedUsers, ",") != "app,report" || c.admin != (dbsecret.AdminPolicy{Host: "db.example.com", Port: 6543}) || c.allowMD5 {
		t.Errorf("config = %+v", c)
	}
	sv, err := newService(c)
	if err != nil {
		t.Fatal(err)
	}
	if sv.requireAuth != "scram-sha-256" || sv.channelBinding != "require" || sv.admin != c.admin || len(sv.allowedUsers) != 2 {
		t.Errorf("service = %+v", sv)
	}
	c, err = configFromEnv(env(map[string]string{"ROTATION_MODE": "alternating", "DB_ADMIN_ALLOW_PLAINTEXT": "true", "DB_ALLOW_MD5": "true"}))
	if err != nil || !c.admin.AllowPlaintext || !c.allowMD5 {
		t.Fatalf("config = %+v, %v", c, err)
	}
	if sv, err = newService(c); err != nil || sv.requireAuth != "scram-sha-256,md5" || sv.channelBinding != "prefer" {
		t.Errorf("service with md5 = %+v, %v", sv, err)
	}
}

type oneSecret string

func (s oneSecret) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	v := string(s)
	return &secretsmanager.GetSecretValueOutput{SecretString: &v}, nil
}

// TestSingleAdminNeedsAllowedUsers: in single-user mode a secret with
// "masterarn" is refused in createSecret when ALLOWED_USERS is not set,
// with an error naming the variable; rotation.New validates the strategy
// (AllowedUsers with Admin) through the wrappers.
func TestSingleAdminNeedsAllowedUsers(t *testing.T) {
	r, err := newRotator(config{mode: ModeSingle, policy: dbsecret.PostgreSQL.DefaultPolicy()}, noSecrets{})
	if err != nil {
		t.Fatal(err)
	}
	cur := rotation.NewString(`{"engine":"postgres","host":"h","username":"victim","password":"p","masterarn":"rds!db-1"}`)
	_, err = r.Create(context.Background(), rotationtest.NewCreateRequest("arn", "v2", cur, nil))
	if err == nil || !strings.Contains(err.Error(), "ALLOWED_USERS") {
		t.Errorf("Create with masterarn and no ALLOWED_USERS: %v, want an error naming ALLOWED_USERS", err)
	}
	_, err = r.Set(context.Background(), &rotation.SetRequest{Pending: cur})
	if err == nil || !strings.Contains(err.Error(), "ALLOWED_USERS") {
		t.Errorf("Set with masterarn and no ALLOWED_USERS: %v, want an error naming ALLOWED_USERS", err)
	}
	// Without masterarn, single-user rotation needs no ALLOWED_USERS.
	if _, err := r.Create(context.Background(), rotationtest.NewCreateRequest("arn", "v2", rotation.NewString(`{"engine":"postgres","host":"h","username":"app","password":"p"}`), nil)); err != nil {
		t.Errorf("Create without masterarn: %v", err)
	}
	// The strategy's own validation runs through dbrotator.Validating and SingleUser.
	v, ok := r.(interface{ Validate() error })
	if !ok {
		t.Fatal("the rotator has no Validate method")
	}
	if err := v.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	bad := &dbrotator.Validating{Next: &dbrotator.SingleUser{Own: &strategy.SingleUser{Service: &service{}}, Admin: &strategy.SingleUser{Service: &service{}, AdminSecret: &strategy.AdminSecret{Client: oneSecret("{}")}}}, Family: dbsecret.PostgreSQL}
	if _, err := rotation.New(localsm.New(localsm.Options{}), bad); err == nil || !strings.Contains(err.Error(), "AllowedUsers") {
		t.Errorf("rotation.New with an admin and no AllowedUsers: %v", err)
	}
}
