package main

import (
	"github.com/aws/aws-lambda-go/events"
)

type (
	eventT = events.SecretsManagerSecretRotationEvent
)
