package rotation_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/localsm"
)

// passwordRotator changes the password field and keeps every other field.
// A real Set would change the password on the database; a real Test would
// log in with it.
type passwordRotator struct{}

func (passwordRotator) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	cur, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	pw, err := rotation.PasswordPolicy{Length: 24, ExcludeCharacters: `/@"'\`}.Generate()
	if err != nil {
		return nil, err
	}
	pending, err := cur.With(map[string]any{"password": pw})
	if err != nil {
		return nil, err
	}
	return &rotation.CreateResponse{Pending: pending}, nil
}

func (passwordRotator) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	if _, err := req.Pending.Get("password"); err != nil {
		return nil, err
	}
	return &rotation.SetResponse{}, nil
}

func (passwordRotator) Test(ctx context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	if _, err := req.Pending.Get("password"); err != nil {
		return nil, err
	}
	return &rotation.TestResponse{}, nil
}

// ExampleHandler rotates a secret once on the in-memory fake, which invokes
// the Handler for each step the way Secrets Manager invokes the Lambda
// function, and prints the versions' labels afterwards.
func ExampleHandler() {
	ctx := context.Background()

	fake := localsm.New(localsm.Options{
		// Fail createSecret unless the RotationToken reaches PutSecretValue,
		// as AWS does for cross-account rotation.
		StrictRotationToken: true,
	})
	h, err := rotation.New(fake, passwordRotator{})
	if err != nil {
		log.Fatal(err)
	}
	// The handler is built on the fake, so the fake learns of it second.
	fake.SetInvoker(localsm.HandlerInvoker(h.Handle))

	err = fake.Seed(localsm.Secret{
		Name: "prod/orders-db",
		Versions: []localsm.Version{{
			ID:           "11111111-1111-4111-8111-111111111111",
			SecretString: aws.String(`{"username":"app","password":"initial-password","host":"db.internal","port":5432}`),
			Stages:       []string{"AWSCURRENT"},
		}},
	})
	if err != nil {
		log.Fatal(err)
	}

	_, err = fake.Rotate(ctx, &secretsmanager.RotateSecretInput{
		SecretId:           aws.String("prod/orders-db"),
		ClientRequestToken: aws.String("22222222-2222-4222-8222-222222222222"), // the new version's id
		RotationLambdaARN:  aws.String("arn:aws:lambda:us-east-1:123456789012:function:rotate-orders-db"),
	})
	if err != nil {
		log.Fatal(err)
	}

	s, _ := fake.Secret("prod/orders-db")
	for _, v := range s.Versions {
		fmt.Println(v.ID, v.Stages)
	}
	cur, err := fake.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("prod/orders-db")})
	if err != nil {
		log.Fatal(err)
	}
	value := rotation.NewString(aws.ToString(cur.SecretString))
	user, _ := value.Get("username")
	port, _ := value.Int("port")
	pw, _ := value.Get("password")
	fmt.Println("user:", user, "port:", port, "new password:", pw != "initial-password", len(pw))
	// Output:
	// 11111111-1111-4111-8111-111111111111 [AWSPREVIOUS]
	// 22222222-2222-4222-8222-222222222222 [AWSCURRENT]
	// user: app port: 5432 new password: true 24
}

// ExampleSecret_With builds a pending value from the current one: fields
// the rotator does not name are carried over, and nil removes a field.
func ExampleSecret_With() {
	current := rotation.NewString(`{"username":"app","password":"old","host":"db.internal","port":5432,"legacy":"x"}`)
	pending, err := current.With(map[string]any{"password": "n3w-Passw0rd", "legacy": nil})
	if err != nil {
		log.Fatal(err)
	}
	s, _ := pending.SecretString()
	fmt.Println(s)
	// Output:
	// {"host":"db.internal","password":"n3w-Passw0rd","port":5432,"username":"app"}
}

// ExampleParseStep accepts only the camelCase step names Secrets Manager
// sends.
func ExampleParseStep() {
	for _, in := range []string{"createSecret", "finishSecret", "create_secret"} {
		step, err := rotation.ParseStep(in)
		if err != nil {
			fmt.Printf("%s: error (unknown step: %v): %v\n", in, errors.Is(err, rotation.ErrUnknownStep), err)
			continue
		}
		fmt.Printf("%s: %v\n", in, step)
	}
	// Output:
	// createSecret: createSecret
	// finishSecret: finishSecret
	// create_secret: error (unknown step: true): invalid rotation event: unknown rotation step: "create_secret" (want createSecret, setSecret, testSecret or finishSecret)
}

// ExampleSecret shows that printing, logging or encoding a Secret never
// shows its value; the accessors do.
func ExampleSecret() {
	s := rotation.NewString(`{"username":"app","password":"hunter2-hunter2"}`)

	fmt.Println(s)
	fmt.Printf("%#v\n", s)
	b, _ := json.Marshal(map[string]any{"credentials": s})
	fmt.Println(string(b))

	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime})).Info("rotating", "secret", s)

	user, _ := s.Get("username")
	fmt.Println("username:", user)
	// Output:
	// rotation.Secret{version: unsaved, stages: [], string value: [REDACTED]}
	// rotation.Secret{version: unsaved, stages: [], string value: [REDACTED]}
	// {"credentials":"[REDACTED]"}
	// level=INFO msg=rotating secret.version="" secret.stages=[] secret.value=[REDACTED]
	// username: app
}

func ExampleDiagnose() {
	ctx := context.Background()
	fake := localsm.New(localsm.Options{
		RotationAttempts: 1,
		Invoker: localsm.InvokerFunc(func(context.Context, string, events.SecretsManagerSecretRotationEvent) error {
			return errors.New("the database is unreachable")
		}),
	})
	_, _ = fake.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("app/db"), SecretString: aws.String(`{"password":"initial"}`),
	})
	_, err := fake.Rotate(ctx, &secretsmanager.RotateSecretInput{
		SecretId:           aws.String("app/db"),
		ClientRequestToken: aws.String("22222222-2222-4222-8222-222222222222"),
		RotationLambdaARN:  aws.String("arn:aws:lambda:us-east-1:123456789012:function:rotate"),
	})
	fmt.Println("rotation failed:", err != nil)

	d, err := rotation.Diagnose(ctx, fake, "app/db")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("incomplete:", d.Incomplete(), "pending:", d.Pending, "value stored:", d.PendingHasValue)
	// Output:
	// rotation failed: true
	// incomplete: true pending: 22222222-2222-4222-8222-222222222222 value stored: false
}
