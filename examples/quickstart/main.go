// Command quickstart rotates an API key three times on your machine, with
// no AWS account: it starts a fake Secrets Manager (served over HTTP and
// used through the real AWS SDK) and a small API-key service, then rotates
// the key with the two-key strategy through a real rotation.Handler, driven
// the way Secrets Manager drives a rotation Lambda. After every step it
// prints the versions and their labels (never a value), and at the end what
// a client that authenticated with AWSCURRENT throughout saw.
//
//	go run ./examples/quickstart
//
// It exits with status 1 if a rotation fails or the client ever failed.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/apikeyservice"
	"github.com/rotationkit/rotation/localsm"
	"github.com/rotationkit/rotation/rotationtest"
	"github.com/rotationkit/rotation/strategy"
)

const functionARN = "arn:aws:lambda:us-east-1:123456789012:function:apikey-rotation"

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	// The target: an API-key service allowing two active keys.
	keys := apikeyservice.New(2)
	target := httptest.NewServer(keys)
	defer target.Close()
	id, key, err := keys.Bootstrap()
	if err != nil {
		return err
	}

	// The fake Secrets Manager, over HTTP, and a real SDK client for it.
	var fake *localsm.Fake
	var invoke atomic.Pointer[localsm.Invoker]
	fake = localsm.New(localsm.Options{
		StrictRotationToken: true,
		Invoker: localsm.InvokerFunc(func(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) error {
			return (*invoke.Load()).Invoke(ctx, fn, ev)
		}),
	})
	sm := localsm.NewServer(fake)
	defer sm.Close()
	client := sm.Client()

	// The rotation function, exactly as a Lambda main would build it.
	logs := &strings.Builder{}
	counted := rotationtest.NewFaultClient(client) // no faults: it only counts calls
	h, err := rotation.New(counted, &strategy.TwoKeys{Provider: apikeyservice.Provider{HTTP: target.Client()}},
		func(o *rotation.Options) { o.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	if err != nil {
		return err
	}
	var inv localsm.Invoker = localsm.InvokerFunc(func(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) error {
		err := h.Handle(ctx, ev)
		status := "ok"
		if err != nil {
			status = "FAILED: " + err.Error()
		}
		fmt.Fprintf(out, "  %-13s %s\n", ev.Step, status)
		printLabels(out, fake, ev.SecretID)
		return err
	})
	invoke.Store(&inv)

	created, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String("quickstart/api-key"),
		SecretString: aws.String(fmt.Sprintf(`{"endpoint":%q,"key_id":%q,"api_key":%q}`, target.URL, id, key)),
	})
	if err != nil {
		return err
	}
	arn := aws.ToString(created.ARN)
	fmt.Fprintf(out, "secret %s\n", arn)
	printLabels(out, fake, arn)

	// A client that reads AWSCURRENT, uses it, and re-reads it once when
	// the key is rejected, the way a caching client behaves.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var attempts, failures atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		p := apikeyservice.Provider{HTTP: target.Client()}
		var cached *rotation.Secret
		fetch := func() {
			v, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
			if err == nil && v.SecretString != nil {
				cached = rotation.NewString(*v.SecretString)
			}
		}
		fetch()
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			attempts.Add(1)
			if err := p.Test(ctx, cached); err != nil {
				fetch()
				if err := p.Test(ctx, cached); err != nil {
					failures.Add(1)
				}
			}
		}
	}()

	const rotations = 3
	var failed error
	for i := 1; i <= rotations; i++ {
		counted.Arm()
		fmt.Fprintf(out, "\nrotation %d of %d\n", i, rotations)
		r, err := client.RotateSecret(ctx, &secretsmanager.RotateSecretInput{
			SecretId:          aws.String(arn),
			RotationLambdaARN: aws.String(functionARN),
		})
		if err != nil {
			failed = err
			break
		}
		rot, ok := fake.Rotation(aws.ToString(r.VersionId))
		if !ok {
			failed = errors.New("the rotation did not start")
			break
		}
		if err := rot.Wait(ctx); err != nil {
			failed = fmt.Errorf("rotation %d failed: %w", i, err)
			break
		}
		fmt.Fprintf(out, "  the service removed AWSPENDING:\n")
		printLabels(out, fake, arn)
		fmt.Fprintf(out, "  active keys at the service: %d; Secrets Manager calls by the function: %d\n", keys.Active(), counted.Calls())
		time.Sleep(20 * time.Millisecond) // let the client run between rotations
	}
	close(stop)
	wg.Wait()

	fmt.Fprintf(out, "\nclient using AWSCURRENT throughout: %d attempts, %d failures\n", attempts.Load(), failures.Load())
	fmt.Fprintf(out, "most keys ever active at the service: %d (limit 2)\n", keys.MaxEverActive())
	if leaked(fake, arn, logs.String()) {
		return errors.New("a key appeared in the handler's log")
	}
	switch {
	case failed != nil:
		return failed
	case failures.Load() > 0:
		return fmt.Errorf("the client failed %d times", failures.Load())
	case keys.MaxEverActive() > 2:
		return fmt.Errorf("the service had %d keys active, over its limit", keys.MaxEverActive())
	}
	fmt.Fprintln(out, "ok: 3 rotations, zero downtime")
	return nil
}

// leaked reports whether log holds the api_key of any version of the
// secret, the bootstrap key and every minted one.
func leaked(fake *localsm.Fake, arn, log string) bool {
	s, ok := fake.Secret(arn)
	if !ok {
		return false
	}
	for _, v := range s.Versions {
		if v.SecretString == nil {
			continue
		}
		if k, err := rotation.NewString(*v.SecretString).Get(apikeyservice.FieldKey); err == nil && k != "" && strings.Contains(log, k) {
			return true
		}
	}
	return false
}

// printLabels prints the secret's versions and labels, never values.
func printLabels(out io.Writer, fake *localsm.Fake, arn string) {
	s, ok := fake.Secret(arn)
	if !ok {
		return
	}
	for _, v := range s.Versions { // in creation order
		if v.Deprecated() {
			continue
		}
		st := slices.Sorted(slices.Values(v.Stages))
		label := strings.Join(st, ", ")
		if v.Placeholder() {
			label += " (no value yet)"
		}
		fmt.Fprintf(out, "      %-36s  %s\n", v.ID, label)
	}
}
