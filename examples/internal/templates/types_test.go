package templates

import (
	"reflect"

	"github.com/awslabs/goformation/v7/cloudformation/cloudwatch"
	"github.com/awslabs/goformation/v7/cloudformation/events"
	"github.com/awslabs/goformation/v7/cloudformation/iam"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
)

type (
	eventsTarget       = events.Rule_Target
	alarmDim           = cloudwatch.Alarm_Dimension
	iamRole            = iam.Role
	serverlessFunction = serverless.Function
)

// reflectDependsOn reads the AWSCloudFormationDependsOn field every
// goformation resource type has.
func reflectDependsOn(r interface{}) []string {
	v := reflect.ValueOf(r)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	f := v.FieldByName("AWSCloudFormationDependsOn")
	if !f.IsValid() {
		return nil
	}
	out, _ := f.Interface().([]string)
	return out
}
