package main

import (
	"context"
	"errors"
	"strings"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
)

// createAttempts bounds how many passwords createAcceptable generates.
const createAttempts = 20

// createAcceptable calls create until the pending password is one SQL
// Server's CHECK_POLICY accepts (see acceptable), so that a random
// password that happens to contain the login's name does not fail
// setSecret. The password policy cannot express that rule; for names of
// three characters or more the chance of a retry is below one in a
// thousand.
func createAcceptable(ctx context.Context, req *rotation.CreateRequest, create func(context.Context, *rotation.CreateRequest) (*rotation.CreateResponse, error)) (*rotation.CreateResponse, error) {
	for i := 0; i < createAttempts; i++ {
		resp, err := create(ctx, req)
		if err != nil || resp == nil || resp.Pending == nil {
			return resp, err
		}
		user, err := resp.Pending.Get(dbsecret.FieldUsername)
		if err != nil {
			return nil, err
		}
		pw, err := resp.Pending.Get(dbsecret.FieldPassword)
		if err != nil {
			return nil, err
		}
		if acceptable(user, pw) {
			return resp, nil
		}
	}
	return nil, errors.New("could not generate a password that does not contain the user name; check the password policy variables")
}

// acceptable applies the part of CHECK_POLICY the password policy cannot:
// the password must not contain the login name (names of three
// characters or more), compared without case.
func acceptable(user, pw string) bool {
	return len(user) < 3 || !strings.Contains(strings.ToLower(pw), strings.ToLower(user))
}
