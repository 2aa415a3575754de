// Package strategy provides ready-made rotation.Rotator implementations for
// the three ways credentials are rotated, each built from a small interface
// that holds only what is specific to the target service:
//
//   - SingleUser changes one credential in place. Simple, but between
//     setSecret and finishSecret clients reading AWSCURRENT hold a value the
//     service no longer accepts: a short failure window.
//   - AlternatingUsers keeps two users and changes the one that is not
//     current, using an admin credential read from another secret. Both
//     credentials stay valid after a rotation: zero downtime.
//   - TwoKeys is for credentials a provider mints (API keys, OAuth client
//     secrets, access keys) with a limit on how many are active. It mints
//     into the pending version, keeps the previous credential valid and
//     revokes older ones, never exceeding the limit even when createSecret
//     is retried.
//
// Every type is safe for concurrent use, keeps no state between calls and
// reads admin credentials per invocation, never caching them past it.
package strategy
