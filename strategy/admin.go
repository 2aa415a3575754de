package strategy

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation"
)

// ErrAdminMismatch means the admin secret is for another host or resource
// than the secret being rotated.
var ErrAdminMismatch = errors.New("admin secret is for another resource")

// SecretReader reads a secret value; *secretsmanager.Client, rotation.Client
// and localsm.Fake satisfy it.
type SecretReader interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// AdminSecret locates an admin credential kept in another secret, named by
// a field of the secret being rotated, the way AWS's templates use
// "masterarn". It is read on every call, never cached, so an admin secret
// that has itself been rotated is picked up at once.
type AdminSecret struct {
	// Client reads the admin secret.
	Client SecretReader
	// Field is the rotated secret's field naming the admin secret (an ARN
	// or a name); default "masterarn".
	Field string
	// UsernameField names the admin secret's user field; default
	// "username".
	UsernameField string
	// MatchFields are fields that must be equal in the admin secret and the
	// rotated one, so an admin for another host is refused. Empty means
	// DefaultAdminMatchFields. A field absent from both is ignored.
	MatchFields []string
	// SkipFieldMatch turns that comparison off, for a caller that checks
	// the admin secret's target itself. MatchFields must then be empty.
	SkipFieldMatch bool
}

// DefaultAdminMatchFields returns the fields AdminSecret compares when
// MatchFields is empty: "host".
func DefaultAdminMatchFields() []string { return []string{"host"} }

// validate reports a configuration that cannot work; prefix names the
// field holding a.
func (a *AdminSecret) validate(prefix string) error {
	switch {
	case a.Client == nil:
		return fmt.Errorf("strategy: %s.Client is nil", prefix)
	case a.SkipFieldMatch && len(a.MatchFields) > 0:
		return fmt.Errorf("strategy: %s has both SkipFieldMatch and MatchFields; set one", prefix)
	}
	return nil
}

func (a *AdminSecret) usernameField() string { return orDefault(a.UsernameField, "username") }

func (a *AdminSecret) field() string { return orDefault(a.Field, "masterarn") }

// Fetch reads the admin credential named by secret and checks that it is
// for the same resource.
func (a *AdminSecret) Fetch(ctx context.Context, secret *rotation.Secret) (*rotation.Secret, error) {
	if err := a.validate("AdminSecret"); err != nil {
		return nil, err
	}
	id, err := secret.Get(a.field())
	if err != nil {
		return nil, fmt.Errorf("admin secret: %w", err)
	}
	out, err := a.Client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		return nil, fmt.Errorf("reading admin secret %q (field %q): %w", id, a.field(), err)
	}
	if out.SecretString == nil {
		return nil, fmt.Errorf("admin secret %q (field %q): %w: it is binary, want a JSON object", id, a.field(), rotation.ErrInvalidSecret)
	}
	admin := rotation.NewString(*out.SecretString)
	if err := admin.Validate(); err != nil {
		return nil, fmt.Errorf("admin secret %q (field %q): %w", id, a.field(), err)
	}
	match := a.MatchFields
	switch {
	case a.SkipFieldMatch:
		match = nil
	case len(match) == 0:
		match = DefaultAdminMatchFields()
	}
	f, err := differingField(secret, admin, match)
	if err != nil {
		return nil, fmt.Errorf("comparing with admin secret %q: %w", id, err)
	}
	if f != "" {
		return nil, fmt.Errorf("%w: field %q differs between the secret and admin secret %q", ErrAdminMismatch, f, id)
	}
	return admin, nil
}

// differingField returns the first of fields whose value differs between
// a and b, or "" if none does. A field absent (or null) in both is equal.
func differingField(a, b *rotation.Secret, fields []string) (string, error) {
	for _, f := range fields {
		av, aok, err := a.Lookup(f)
		if err != nil {
			return "", err
		}
		bv, bok, err := b.Lookup(f)
		if err != nil {
			return "", err
		}
		if aok != bok || av != bv {
			return f, nil
		}
	}
	return "", nil
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
