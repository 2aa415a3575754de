package localsm_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/rotationkit/rotation/localsm"
)

// TestConstraintWording: a range violation is worded per bound, as AWS
// words it ("Member must have value less than or equal to 4096"), never as
// a range.
func TestConstraintWording(t *testing.T) {
	f := localsm.New(localsm.Options{})
	ctx := context.Background()
	if _, err := f.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("v")}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		call func() error
		want string
	}{
		{"password too long", func() error {
			_, err := f.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(4097)})
			return err
		}, "Value '4097' at 'passwordLength' failed to satisfy constraint: Member must have value less than or equal to 4096"},
		{"password too short", func() error {
			_, err := f.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(0)})
			return err
		}, "Value '0' at 'passwordLength' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"max results too large", func() error {
			_, err := f.ListSecrets(ctx, &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(101)})
			return err
		}, "Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100"},
		{"max results too small", func() error {
			_, err := f.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("s"), MaxResults: aws.Int32(0)})
			return err
		}, "Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"token too short", func() error {
			_, err := f.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("x"), ClientRequestToken: aws.String(strings.Repeat("a", 31))})
			return err
		}, "Member must have length greater than or equal to 32"},
		{"token too long", func() error {
			_, err := f.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("x"), ClientRequestToken: aws.String(strings.Repeat("a", 65))})
			return err
		}, "Member must have length less than or equal to 64"},
		{"stage too long", func() error {
			_, err := f.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("x"), VersionStages: []string{strings.Repeat("s", 257)}})
			return err
		}, "Value at 'versionStages' failed to satisfy constraint: Member must have length less than or equal to 256"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" {
				t.Fatalf("error = %v, want a ValidationException", err)
			}
			if !strings.Contains(ae.ErrorMessage(), tt.want) {
				t.Errorf("message = %q, want it to contain %q", ae.ErrorMessage(), tt.want)
			}
			if strings.Contains(ae.ErrorMessage(), "between") {
				t.Errorf("message = %q words a range; AWS words each bound", ae.ErrorMessage())
			}
		})
	}
}

// TestListSecretsFilterLimits: the model's limits on Filters are enforced
// before any matching, so a single request cannot make the fake match a
// huge value against every secret.
func TestListSecretsFilterLimits(t *testing.T) {
	f := localsm.New(localsm.Options{})
	ctx := context.Background()
	for i := range 40 {
		var tags []types.Tag
		for j := range 20 {
			tags = append(tags, types.Tag{Key: aws.String(fmt.Sprintf("key%d", j)), Value: aws.String(strings.Repeat("v", 200))})
		}
		if _, err := f.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(fmt.Sprintf("s%d", i)), SecretString: aws.String("v"), Tags: tags}); err != nil {
			t.Fatal(err)
		}
	}
	values := func(n int, v string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = v
		}
		return out
	}
	for _, tt := range []struct {
		name    string
		filters []types.Filter
		want    string
	}{
		{"huge value", []types.Filter{{Key: types.FilterNameStringTypeAll, Values: []string{strings.Repeat("a", 900_000)}}}, "at 'filters.1.member.values.1.member' failed to satisfy constraint: Member must have length less than or equal to 512"},
		{"too many values", []types.Filter{{Key: types.FilterNameStringTypeTagValue, Values: values(11, "v")}}, "at 'filters.1.member.values' failed to satisfy constraint: Member must have length less than or equal to 10"},
		{"no values", []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{}}}, "at 'filters.1.member.values' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"too many filters", func() []types.Filter {
			var fs []types.Filter
			for range 11 {
				fs = append(fs, types.Filter{Key: types.FilterNameStringTypeName, Values: []string{"s"}})
			}
			return fs
		}(), "at 'filters' failed to satisfy constraint: Member must have length less than or equal to 10"},
		{"pattern", []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"a*b"}}}, "Member must satisfy regular expression pattern"},
		{"key", []types.Filter{{Key: "colour", Values: []string{"a"}}}, "Member must satisfy enum value set"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.ListSecrets(ctx, &secretsmanager.ListSecretsInput{Filters: tt.filters})
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" {
				t.Fatalf("error = %v, want a ValidationException", err)
			}
			if !strings.Contains(ae.ErrorMessage(), tt.want) {
				t.Errorf("message = %q, want it to contain %q", ae.ErrorMessage(), tt.want)
			}
		})
	}

	// Within the limits, filters still match: ten values of 512
	// characters against 40 secrets with 20 tags each.
	out, err := f.ListSecrets(ctx, &secretsmanager.ListSecretsInput{Filters: []types.Filter{
		{Key: types.FilterNameStringTypeAll, Values: append(values(9, strings.Repeat("x", 512)), "key1")},
		{Key: types.FilterNameStringTypeName, Values: []string{"s1"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(out.SecretList); got != 11 { // s1, s10..s19
		t.Errorf("matched %d secrets, want 11", got)
	}
	// Name prefixes are case-sensitive, descriptions and "all" are not.
	out, err = f.ListSecrets(ctx, &secretsmanager.ListSecretsInput{Filters: []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"S1"}}}})
	if err != nil || len(out.SecretList) != 0 {
		t.Errorf("name filter S1 matched %v (%v), want none", len(out.SecretList), err)
	}
	out, err = f.ListSecrets(ctx, &secretsmanager.ListSecretsInput{Filters: []types.Filter{{Key: types.FilterNameStringTypeAll, Values: []string{"S1"}}}})
	if err != nil || len(out.SecretList) != 11 {
		t.Errorf("all filter S1 matched %v (%v), want 11", len(out.SecretList), err)
	}
}

// BenchmarkListSecretsLargeFleet measures a filtered ListSecrets over
// 10,000 secrets.
func BenchmarkListSecretsLargeFleet(b *testing.B) {
	f := localsm.New(localsm.Options{})
	ctx := context.Background()
	for i := range 10_000 {
		if _, err := f.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(fmt.Sprintf("fleet/%05d", i)), SecretString: aws.String("v"), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("payments")}}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.ListSecrets(ctx, &secretsmanager.ListSecretsInput{Filters: []types.Filter{{Key: types.FilterNameStringTypeTagValue, Values: []string{"pay"}}}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDescribeSecretLargeFleet measures one lookup among 10,000
// secrets (constant time with the fake's indexes).
func BenchmarkDescribeSecretLargeFleet(b *testing.B) {
	f := localsm.New(localsm.Options{})
	ctx := context.Background()
	for i := range 10_000 {
		if _, err := f.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(fmt.Sprintf("fleet/%05d", i)), SecretString: aws.String("v")}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := f.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(fmt.Sprintf("fleet/%05d", i%10_000))}); err != nil {
			b.Fatal(err)
		}
	}
}
