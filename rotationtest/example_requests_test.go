package rotationtest_test

import (
	"context"
	"fmt"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/rotationtest"
)

// userOf is a Rotator method under test: it reads the pending and current
// values of a SetRequest the way Set would.
func userOf(ctx context.Context, req *rotation.SetRequest) (string, error) {
	cur, err := req.Current(ctx)
	if err != nil {
		return "", err
	}
	if u, _ := req.Pending.Get("username"); u != "" {
		return u, nil
	}
	return cur.Get("username")
}

// A request built by NewSetRequest behaves like the one a Handler passes:
// Current and Previous are read on first use, here from the values given.
func ExampleNewSetRequest() {
	current := rotation.NewString(`{"username":"app","password":"old-password"}`)
	pending := rotation.NewString(`{"password":"new-password"}`)
	req := rotationtest.NewSetRequest("arn:aws:secretsmanager:us-east-1:123456789012:secret:app-AbCdEf", "v2", pending, current, nil)

	user, err := userOf(context.Background(), req)
	fmt.Println(user, err)
	prev, err := req.Previous(context.Background())
	fmt.Println(prev == nil, err)
	// Output:
	// app <nil>
	// true <nil>
}
