// Package templates holds the test that checks every example's AWS SAM
// template (examples/*/template.yaml): it parses each with goformation, a
// CloudFormation library, and checks the resources, permissions, alerts
// and references every rotation deployment needs. It has no code of its
// own.
package templates
