package strategy_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/localsm"
	"github.com/rotationkit/rotation/strategy"
)

// The examples rotate against the in-memory toy services of this
// package's tests (a password database, a database with an admin, an
// API-key provider) and the rotationtest fake of Secrets Manager, with
// fixed ClientRequestTokens so their output is stable.

const exampleFunction = "arn:aws:lambda:us-east-1:123456789012:function:rotate-example"

// exampleTokens are the ClientRequestTokens (version ids) of the examples'
// versions: the initial one, then one per rotation.
var exampleTokens = []string{
	"version0-0000-4000-8000-000000000000",
	"version1-0000-4000-8000-000000000000",
	"version2-0000-4000-8000-000000000000",
}

// newExampleFake returns a fake Secrets Manager holding one secret, and a
// function that registers the rotation function's handler.
func newExampleFake(ctx context.Context, name, value string) (*localsm.Fake, func(*rotation.Handler)) {
	fns := localsm.Functions{}
	fake := localsm.New(localsm.Options{Invoker: fns})
	if _, err := fake.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:               aws.String(name),
		ClientRequestToken: aws.String(exampleTokens[0]),
		SecretString:       aws.String(value),
	}); err != nil {
		log.Fatal(err)
	}
	return fake, func(h *rotation.Handler) { fns[exampleFunction] = localsm.HandlerInvoker(h.Handle) }
}

// rotateExample runs one rotation with ClientRequestToken token.
func rotateExample(ctx context.Context, fake *localsm.Fake, name, token string) {
	if _, err := fake.Rotate(ctx, &secretsmanager.RotateSecretInput{
		SecretId:           aws.String(name),
		ClientRequestToken: aws.String(token),
		RotationLambdaARN:  aws.String(exampleFunction),
	}); err != nil {
		log.Fatal(err)
	}
}

// staged returns the value labelled stage.
func staged(fake *localsm.Fake, name, stage string) *rotation.Secret {
	s, _ := fake.Secret(name)
	v, _ := s.Staged(stage)
	return rotation.NewString(aws.ToString(v.SecretString))
}

func ExampleSingleUser() {
	ctx := context.Background()
	db := newPasswordDB("db.example.internal", map[string]string{"app": "initial-password"})
	fake, register := newExampleFake(ctx, "app/db",
		`{"host":"db.example.internal","username":"app","password":"initial-password"}`)

	h, err := rotation.New(fake, &strategy.SingleUser{Service: db})
	if err != nil {
		log.Fatal(err)
	}
	register(h)

	for _, token := range exampleTokens[1:] {
		rotateExample(ctx, fake, "app/db", token)
		fmt.Println(strings.Join(labels(fake, "app/db"), " "))
	}
	fmt.Println("AWSCURRENT authenticates:", db.Test(ctx, staged(fake, "app/db", "AWSCURRENT")) == nil)
	fmt.Println("AWSPREVIOUS authenticates:", db.Test(ctx, staged(fake, "app/db", "AWSPREVIOUS")) == nil)
	fmt.Println("password changes:", db.changeLog())
	// Output:
	// version0[AWSPREVIOUS] version1[AWSCURRENT]
	// version1[AWSPREVIOUS] version2[AWSCURRENT]
	// AWSCURRENT authenticates: true
	// AWSPREVIOUS authenticates: false
	// password changes: [app by app app by app]
}

func ExampleAlternatingUsers() {
	ctx := context.Background()
	db := newUserDB("db.example.internal", "admin", "admin-password", true)
	db.addUser("app", "initial-password", "SELECT", "INSERT")
	fake, register := newExampleFake(ctx, "app/db",
		`{"host":"db.example.internal","username":"app","password":"initial-password","masterarn":"app/db-admin"}`)
	// The admin credential lives in its own secret, named by "masterarn".
	if _, err := fake.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String("app/db-admin"),
		SecretString: aws.String(`{"host":"db.example.internal","username":"admin","password":"admin-password"}`),
	}); err != nil {
		log.Fatal(err)
	}

	h, err := rotation.New(fake, &strategy.AlternatingUsers{
		Service:       db,
		AdminSecret:   strategy.AdminSecret{Client: fake},
		MaxNameLength: 32, // MySQL
	})
	if err != nil {
		log.Fatal(err)
	}
	register(h)

	for _, token := range exampleTokens[1:] {
		rotateExample(ctx, fake, "app/db", token)
		cur, prev := staged(fake, "app/db", "AWSCURRENT"), staged(fake, "app/db", "AWSPREVIOUS")
		curUser, _ := cur.Get("username")
		prevUser, _ := prev.Get("username")
		fmt.Printf("AWSCURRENT is %s, AWSPREVIOUS is %s, both authenticate: %v\n",
			curUser, prevUser, db.Test(ctx, cur) == nil && db.Test(ctx, prev) == nil)
	}
	snap := db.snapshot()
	fmt.Println("users created:", snap.Created)
	fmt.Println("app_clone's privileges:", snap.Users["app_clone"].Privileges)
	// Output:
	// AWSCURRENT is app_clone, AWSPREVIOUS is app, both authenticate: true
	// AWSCURRENT is app, AWSPREVIOUS is app_clone, both authenticate: true
	// users created: [app_clone]
	// app_clone's privileges: [SELECT INSERT]
}

func ExampleTwoKeys() {
	ctx := context.Background()
	clock := localsm.NewManualClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	provider := newKeyAPI(2, clock.Now) // at most two active keys
	id, secret := provider.addKey(clock.Now())
	fake, register := newExampleFake(ctx, "app/api-key",
		`{"service":"toy","key_id":"`+id+`","api_key":"`+secret+`"}`)

	h, err := rotation.New(fake, &strategy.TwoKeys{Provider: provider, Now: clock.Now})
	if err != nil {
		log.Fatal(err)
	}
	register(h)

	for _, token := range exampleTokens[1:] {
		clock.Advance(30 * 24 * time.Hour)
		rotateExample(ctx, fake, "app/api-key", token)
		cur, _ := staged(fake, "app/api-key", "AWSCURRENT").Get("key_id")
		prev, _ := staged(fake, "app/api-key", "AWSPREVIOUS").Get("key_id")
		fmt.Printf("AWSCURRENT %s, AWSPREVIOUS %s, active keys %v\n", cur, prev, provider.active())
	}
	// Output:
	// AWSCURRENT key-0002, AWSPREVIOUS key-0001, active keys [key-0001 key-0002]
	// AWSCURRENT key-0003, AWSPREVIOUS key-0002, active keys [key-0002 key-0003]
}
