package rotationtest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/localsm"
	"github.com/rotationkit/rotation/rotationtest"
)

// exampleDB is the target service of the examples: a database with one
// user whose password can be changed.
type exampleDB struct {
	mu       sync.Mutex
	password string
}

func (db *exampleDB) login(s *rotation.Secret) error {
	pw, err := s.Get("password")
	if err != nil {
		return err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if pw != db.password {
		return errors.New("authentication failed")
	}
	return nil
}

// exampleRotator is a single-user rotator: Create makes a new password,
// Set changes the user's password to it, Test logs in with it.
type exampleRotator struct{ db *exampleDB }

func (r exampleRotator) Create(ctx context.Context, req *rotation.CreateRequest) (*rotation.CreateResponse, error) {
	cur, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	pw, err := rotation.PasswordPolicy{}.Generate()
	if err != nil {
		return nil, err
	}
	p, err := cur.With(map[string]any{"password": pw})
	return &rotation.CreateResponse{Pending: p}, err
}

func (r exampleRotator) Set(ctx context.Context, req *rotation.SetRequest) (*rotation.SetResponse, error) {
	if r.db.login(req.Pending) == nil {
		return &rotation.SetResponse{}, nil // already set
	}
	cur, err := req.Current(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.db.login(cur); err != nil {
		return nil, err
	}
	pw, err := req.Pending.Get("password")
	if err != nil {
		return nil, err
	}
	r.db.mu.Lock()
	defer r.db.mu.Unlock()
	r.db.password = pw
	return &rotation.SetResponse{}, nil
}

func (r exampleRotator) Test(ctx context.Context, req *rotation.TestRequest) (*rotation.TestResponse, error) {
	return &rotation.TestResponse{}, r.db.login(req.Pending)
}

// Check runs every conformance rule against a rotator, each with a fresh
// fixture, and returns the violations joined.
func ExampleCheck() {
	factory := func(ctx context.Context) (*rotationtest.Fixture, error) {
		db := &exampleDB{password: "first-password"}
		return &rotationtest.Fixture{
			Secret: `{"username":"app","password":"first-password"}`,
			NewHandler: func(c rotation.Client, l *slog.Logger) (rotationtest.HandleFunc, error) {
				h, err := rotation.New(c, exampleRotator{db}, func(o *rotation.Options) { o.Logger = l })
				if err != nil {
					return nil, err
				}
				return h.Handle, nil
			},
			Probe: func(ctx context.Context, s *rotation.Secret) error { return db.login(s) },
		}, nil
	}

	_, err := rotationtest.Check(context.Background(), factory)
	if err != nil {
		for _, err := range err.(interface{ Unwrap() []error }).Unwrap() {
			var v *rotationtest.Violation
			if errors.As(err, &v) {
				fmt.Println("violates", v.Rule)
			}
		}
		return
	}
	fmt.Println("conformant")
	// Output:
	// conformant
}

// A FaultClient sits between code under test and Secrets Manager (here
// the in-memory fake), counts the calls and makes chosen ones fail.
func ExampleFaultClient() {
	ctx := context.Background()
	fake := localsm.New(localsm.Options{})
	if _, err := fake.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("app/db"), SecretString: aws.String("v1"),
	}); err != nil {
		fmt.Println(err)
		return
	}
	c := rotationtest.NewFaultClient(fake,
		rotationtest.Fail("GetSecretValue", 1, rotationtest.ErrThrottling), // the first read is throttled
		rotationtest.Lose("PutSecretValue", 1),                             // the first write's response is lost
	)

	read := &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/db")}
	_, err := c.GetSecretValue(ctx, read)
	code, _ := localsm.ErrorCode(err)
	fmt.Println("first read:", code)
	out, err := c.GetSecretValue(ctx, read)
	fmt.Println("second read:", aws.ToString(out.SecretString), err)

	_, err = c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String("app/db"),
		ClientRequestToken: aws.String("5a7e9d3c-0000-4000-8000-000000000001"),
		SecretString:       aws.String("v2"),
	})
	fmt.Println("write lost:", errors.Is(err, rotationtest.ErrLostResponse))
	out, _ = fake.GetSecretValue(ctx, read)
	fmt.Println("but it took effect:", aws.ToString(out.SecretString))

	fmt.Println("calls:", c.Calls(), c.CallsByOp(), "faults fired:", c.Fired())
	// Output:
	// first read: ThrottlingException
	// second read: v1 <nil>
	// write lost: true
	// but it took effect: v2
	// calls: 3 map[GetSecretValue:2 PutSecretValue:1] faults fired: 2
}

// CrashAfter makes a rotation function die after a step has done its
// work; the fake, like Secrets Manager, then retries the whole rotation.
func ExampleCrashAfter() {
	ctx := context.Background()
	db := &exampleDB{password: "first-password"}
	var inv localsm.Invoker
	fake := localsm.New(localsm.Options{
		Invoker: localsm.InvokerFunc(func(ctx context.Context, fn string, ev events.SecretsManagerSecretRotationEvent) error {
			return inv.Invoke(ctx, fn, ev)
		}),
	})
	h, err := rotation.New(fake, exampleRotator{db})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The function dies right after its first setSecret.
	inv = rotationtest.CrashAfter(localsm.HandlerInvoker(h.Handle), rotation.StepSet, 1)

	if _, err := fake.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("app/db"), SecretString: aws.String(`{"username":"app","password":"first-password"}`),
	}); err != nil {
		fmt.Println(err)
		return
	}
	r, err := fake.Rotate(ctx, &secretsmanager.RotateSecretInput{
		SecretId:          aws.String("app/db"),
		RotationLambdaARN: aws.String("arn:aws:lambda:us-east-1:123456789012:function:rotator"),
	})
	fmt.Println("rotated:", err == nil, "attempts:", r.Attempts())
	for _, e := range fake.Events() {
		if e.Step != "" {
			fmt.Println(e.Name, "during", e.Step)
		} else {
			fmt.Println(e.Name)
		}
	}
	// Output:
	// rotated: true attempts: 2
	// RotationStarted
	// RotationFailed during setSecret
	// RotationStarted
	// RotationSucceeded
}
