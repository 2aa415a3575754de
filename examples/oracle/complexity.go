package main

import (
	"context"
	"errors"
	"strings"
	"unicode"

	"github.com/rotationkit/rotation"
	"github.com/rotationkit/rotation/examples/internal/dbsecret"
)

// createAttempts bounds how many passwords createAcceptable generates.
const createAttempts = 20

// createAcceptable calls create until the pending password is one
// Oracle's password-verify functions accept (see acceptable), so that a
// random password that happens to contain the user name does not fail
// setSecret with ORA-28003. The password policy cannot express that rule.
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
		db, _, _ := resp.Pending.Lookup(dbsecret.FieldDBName)
		if acceptable(user, pw, db) {
			return resp, nil
		}
	}
	return nil, errors.New("could not generate a password that does not contain the user name; check the password policy variables")
}

// acceptable applies the rules of ORA12C_VERIFY_FUNCTION and
// ORA12C_STRONG_VERIFY_FUNCTION that the password policy cannot: the
// password must not contain the user name (as stored, or reversed), the
// database's service name, or "oracle", compared without case; and each
// class of characters it has (upper case, lower case, digits, others)
// must appear at least twice, as the strong function demands.
func acceptable(user, pw, db string) bool {
	var classes [4]int
	for _, r := range pw {
		switch {
		case unicode.IsUpper(r):
			classes[0]++
		case unicode.IsLower(r):
			classes[1]++
		case unicode.IsDigit(r):
			classes[2]++
		default:
			classes[3]++
		}
	}
	for _, n := range classes {
		if n == 1 {
			return false
		}
	}
	p := strings.ToUpper(pw)
	u := strings.ToUpper(storedName(user))
	r := []rune(u)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	// The user name (and its reverse) is refused whatever its length, as
	// the verify function does; the database name only from 3 characters.
	for _, bad := range []string{u, string(r)} {
		if bad != "" && strings.Contains(p, bad) {
			return false
		}
	}
	for _, bad := range []string{strings.ToUpper(db), "ORACLE"} {
		if len(bad) >= 3 && strings.Contains(p, bad) {
			return false
		}
	}
	return true
}
